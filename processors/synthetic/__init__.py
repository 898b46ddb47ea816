"""Generated data for the demo, the tests and the benchmarks; nothing is downloaded.

`samples` makes media files with the bundled ffmpeg (clips, images, the demo set), `brand`
draws labelled frames for the brand checks, `lake` builds events for lake and analytics tests.
"""
