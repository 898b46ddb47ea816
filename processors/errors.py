"""The exception tree of reelscope.

ReelscopeError
├── StorageError            the bucket failed or refused (retry later)
│   └── ObjectNotFound      no object under that key
├── MediaError              the bytes are not media we can analyse (permanent: failed result)
│   ├── UnsupportedMedia    a type we do not accept
│   ├── MediaLimitExceeded  too large, too long, too many pixels, too slow to decode
│   ├── ManifestUnreadable  a C2PA manifest the library cannot parse (a provenance error)
│   └── MetadataTooLarge    an XMP packet over the read limit (a provenance error)
└── AnalyzerError
    ├── AnalyzerUnavailable a transient fault: retry later
    └── AnalyzerRejected    the analyzer will never accept this input: dead-letter
"""


class ReelscopeError(Exception):
    """Root of every error reelscope raises on purpose."""


class StorageError(ReelscopeError):
    pass


class ObjectNotFound(StorageError):
    pass


class ObjectExists(StorageError):
    """A write that must create its key found it taken (`Store.create_bytes`)."""


class MediaError(ReelscopeError):
    pass


class IntegrityError(MediaError):
    """The bytes in the bucket are not the ones the event names (its `sha256`)."""


class UnsupportedMedia(MediaError):
    pass


class MediaLimitExceeded(MediaError):
    pass


class AnalyzerError(ReelscopeError):
    pass


class AnalyzerUnavailable(AnalyzerError):
    pass


class AnalyzerRejected(AnalyzerError):
    pass
