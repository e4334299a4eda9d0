package syncer

// ContentType is the media type of a chunk body (manifest.AppendChunk).
const ContentType = "application/x-ndjson"
