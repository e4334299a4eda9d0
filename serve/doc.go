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
//	GET  /admin, /admin/summary.{json,csv}  the brand's view (with Config.Admin)
//
// A tap's URL is rebuilt from the template's origin (scheme and host, as
// configured) and the request's raw path and query, and checked with
// sdm.Template.Verify under the keys of each configured key version
// (keys.Deriver from the master key). A verified (UID, read counter) then
// goes to the store, which accepts the counter only if it is strictly
// above the last accepted one for that UID (see package store). Results
// and their status codes for API clients (Accept: application/json):
//
//	genuine      200  {"result":"genuine","uid":"04…","sku":"…","batch":"…","read_ctr":7,"url":"…","verdict":"v1.…"}
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
// genuine tap, and a 302 to RejectURL?result=… otherwise; with no URL to
// send them to they get the shopper's page of the result, with the status
// above. Every tap answer is Cache-Control: no-store.
//
// # Shopper pages
//
// The pages (pages/*.html, embedded; html/template) are genuine (product
// name from Config.Pages.Products, SKU, batch, tag UID, and whether this
// is the first tap since the station's read-back: the counter is the
// binding's read_ctr+1, else how many reads came between), replayed (the
// link was opened before: a copied, shared or bookmarked URL, a phone
// opening it twice, or a copied tag's link; tap again), not genuine
// (bad_mac and malformed), unknown (MAC ours, no binding yet) and error.
// Each is mobile-first, one small self-contained document (inline CSS, no
// script, no external asset; Content-Security-Policy default-src 'none'),
// with a lang attribute, one h1, and the verdict in words next to its
// colour. A brand overrides the genuine and replayed pages per SKU with
// Config.Pages.Dir/<SKU>/<page>.html, parsed over the built-in set (define
// "body" to keep the layout, or "layout" too), read once at New (at most
// MaxPageBytes each) and rendered once with sample data so that a broken
// template stops New.
//
// # Signed verdict
//
// With Config.Verdict.KeyFile (an HMAC-SHA256 key of 32 to 64 bytes the
// brand also holds; raw, or a file of only hex digits), a genuine tap's
// redirect URL gets ?tagline_verdict=<verdict> (Config.Verdict.Param), and
// the JSON answer a "verdict" field with the same string:
//
//	verdict = "v1." + B64(payload) + "." + B64(HMAC-SHA256(key, "v1." + B64(payload)))
//	payload = {"uid":"04…","sku":"…","batch":"…","ctr":7,"result":"genuine","iat":1777636800,"exp":1777636920}
//
// B64 is unpadded base64url (RFC 4648 §5); the payload is UTF-8 JSON, iat
// and exp Unix seconds, exp = iat + Config.Verdict.TTL (default 2
// minutes). The brand's page checks, in this order: the string starts
// with "v1." and its last "." splits off the MAC; the MAC over everything
// before that dot, compared in constant time; the payload decodes; result
// is "genuine"; now < exp. To make a verdict single-use as well, it keeps
// each (uid, ctr) it accepted until its exp. The key is never logged,
// served or shown in an error (only its length).
//
// POST /v1/sync needs "Authorization: Bearer <token>" (Config.Tokens maps
// a token to the station it may upload for, or "*") and an
// Idempotency-Key. The body is parsed and validated by
// manifest.ParseChunk (count and sha256 in the trailer, seq order, one
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
// # Tap history
//
// Every tap answered (each result, bad_mac and malformed included) is kept
// in the store's history (Config.History; store.History: the bbolt
// buckets history_taps and history_alerts, or the PostgreSQL tables
// tagline_taps, partitioned by month, and tagline_alerts, indexed by
// time): time, result, UID,
// SKU, batch, counter, key version. No IP address is kept unless
// HistoryConfig.KeepIP; a coarse place is kept only when a trusted proxy
// sets HistoryConfig.PlaceHeader. The recorder writes in batches (up to
// 4096 taps, every 200 ms; COPY on PostgreSQL) off the tap's path, so a
// crash may lose the last 200 ms of history, never an accepted counter.
// Taps and alerts older than HistoryConfig.Retention (default 400 days)
// are pruned at start and hourly.
//
// On PostgreSQL the history's tables come from the store's versioned
// migrations (package pgstore, "Migrations"), the online ones run here on
// start; idempotency records older than
// HistoryConfig.IdempotencyRetention (30 days) are pruned with the
// history.
//
// Clone alerts are events in the history: counter_seen_twice, a verified
// tap whose counter is not above the last accepted one (every replayed
// tap); two_places, a genuine tap of a tag whose previous genuine tap came
// from another place less than HistoryConfig.CloneWindow (10s) before.
// Without PlaceHeader a place is the client's /24 or /48 network, held in
// memory only (at most 100,000 tags), so two_places is per instance.
//
// # The brand's view
//
// With Config.Admin.TokenFile (one line of 16 to 256 characters) the
// server answers, to a request carrying the token as a bearer token or as
// the password of HTTP Basic authentication (compared as SHA-256 hashes
// in constant time; anything else is 401 with a Basic challenge, so a
// browser asks):
//
//	GET /admin[?days=N]                the view: taps per day, verdicts, genuine taps
//	                                   per SKU and per batch, clone alerts per day
//	                                   (inline SVG drawn by the server, no script,
//	                                   no external asset) and the newest alerts
//	GET /admin/summary.json[?days=N]   the same data: store.Summary as JSON
//	GET /admin/summary.csv[?days=N]    section,key,count rows (by_sku, by_batch, by_day,
//	                                   by_result, alerts_by_day), then
//	                                   alert,<RFC 3339 time>,<kind>,<uid>,<sku>,<ctr>
//
// days is 1 to 400 (default Config.Admin.Days, else 30), counted in whole
// UTC days up to today. A CSV cell starting with = + - @ is prefixed with
// ' so that a spreadsheet does not read it as a formula.
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
