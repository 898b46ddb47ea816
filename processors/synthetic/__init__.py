"""Generated data for the demo, the tests and the benchmarks; nothing is downloaded.

`samples` makes media files with the bundled ffmpeg (clips, images, the demo set), `brand`
draws labelled frames for the brand checks, `events` builds any one valid event (keywords
replace fields) for the tests and benchmarks, `lake` the dated events of a media's whole life
for lake and analytics tests.
`scenes` makes clips with known hard cuts and look-alikes (fades, flashes) for scene-cut tests.
"""
