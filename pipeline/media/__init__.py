"""Pictures: media sources behind one protocol, shot choosing, the media cache and asset store.

`model` holds the value objects every part shares (`Candidate`, `MediaQuery`, `Shot`, `Look`)
and the `MediaSource` protocol; each source lives in its own module and is named once in
`pipeline.media.sources`.
"""
