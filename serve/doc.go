// Package serve is the engine of `tagline serve`, the brand's backend: it
// receives the stations' journals (POST /v1/sync, the tagline-sync/1 format
// of package syncer) and verifies phone taps of the tags (GET on the SUN
// template's path).
//
// # Endpoints
//
//	GET  <template path>?<template query>   a tap: 302 to the SKU's URL, or JSON
//	POST /v1/sync                           a sync chunk from a station
//	GET  /healthz                           200 "ok" when the store answers, else 503
//	GET  /metrics                           Prometheus text format
//
// A tap's URL is rebuilt from the template's origin (scheme and host, as
// configured) and the request's raw path and query, and checked with
// sdm.Template.Verify under the keys of each configured key version
// (keys.Deriver from the master key). A verified (UID, read counter) then
// goes to the store, which accepts the counter only if it is strictly
// above the last accepted one for that UID (see package store). Results
// and their status codes for API clients (Accept: application/json):
//
//	genuine      200  {"result":"genuine","uid":"04…","sku":"…","read_ctr":7,"url":"…"}
//	replayed     409  the counter was not above the last accepted one
//	unknown_tag  404  the MAC verifies with our keys but no station has synced the tag
//	bad_mac      403  PICCData or SDMMAC do not verify with any configured key version
//	malformed    400  the path or query does not fit the template
//	error        503  the store failed; nothing was decided
//
// During a key rotation (tagline rekey) Config.Rollout names the old and
// the new key version: a tag the store records with the old version whose
// message verifies with the new one is genuine (it was rekeyed and its new
// binding is not synced yet); its counter is checked against its one
// record as for any tap, and the JSON answer's key_version says which
// version verified. The station's new binding, same station and a higher
// seq, replaces the old one like a re-encode.
//
// A HEAD on the tap path is answered 405 and decides nothing, so that a
// link preview does not spend the counter. Browsers get a 302 to Config.Redirects[sku] (else DefaultURL) for a
// genuine tap, and a 302 to RejectURL?result=… or a short text page with
// the status above otherwise. Every tap answer is Cache-Control: no-store.
//
// POST /v1/sync needs "Authorization: Bearer <token>" (Config.Tokens maps
// a token to the station it may upload for, or "*") and an
// Idempotency-Key. The body is parsed and validated by
// syncer.ParseChunkWith (count and sha256 in the trailer, seq order, one
// station, and the record rules of syncer's doc.go, with Config.Now and
// Config.ClockSkew for times ahead of the clock): one bad record refuses
// the whole chunk, before anything is stored. Then the store applies it
// once per key. The answer is 200 with
//
//	{"station":"line-1","acked_seq":1500,"count":500,"new":500,"bindings":498,"conflicts":0}
//
// acked_seq being the chunk's last seq: every record of it is durably
// held. conflicts counts the records not applied because another
// station's binding holds their UID (store invariant 4: the first binding
// is kept); each is stored for a person to resolve, logged at warn level
// with the UID and both stations, and counted in /metrics
// (tagline_sync_conflicts_total, and tagline_binding_conflicts, the
// conflicts the store holds). A key seen before returns the stored answer
// with Idempotent-Replayed: true; the same key with another body is 422.
// Other answers: 401 (token), 403 (station not allowed for the token), 400
// (no key), 413 (too large), 422 (malformed chunk or a record out of
// range; a time ahead of the clock says "the station's clock is ahead"),
// 503 (store failure; retry).
//
// # Invariants
//
//  1. A tap is genuine at most once per (UID, counter), across every serve
//     instance sharing a store, and an accepted counter is durable before
//     the answer (package store, invariants 1 and 2).
//  2. Nothing about a tap is decided before its MAC verified: unknown_tag
//     and replayed are only ever said of messages made with our keys.
//  3. Logs never hold key bytes, MACs, PICCData or whole SUN URLs; taps are
//     logged at debug level with UID and counter only.
//  4. Shutdown is graceful: after the context of ListenAndServe ends, the
//     listener closes and requests in flight finish (up to
//     Config.ShutdownTimeout); a tap whose counter was committed is
//     answered.
package serve
