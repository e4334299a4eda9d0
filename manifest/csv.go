package manifest

import "strconv"

var csvColumns = []string{"seq", "uid", "sku", "batch_id", "station_id", "key_version", "master_kcv",
	"template_hash", "outcome", "attempts", "read_ctr", "started_at", "completed_at"}

// AppendCSVColumns appends the CSV manifest's first row, its column names.
func AppendCSVColumns(dst []byte) []byte {
	for i, c := range csvColumns {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, c...)
	}
	return append(dst, '\n')
}

// AppendCSVRecord appends the CSV row of b.
func AppendCSVRecord(dst []byte, b *Binding) []byte {
	dst = strconv.AppendUint(dst, b.Seq, 10)
	for _, cell := range []string{string(b.UID), b.SKU, b.BatchID, b.StationID} {
		dst = append(dst, ',')
		dst = appendCSVText(dst, cell)
	}
	dst = append(dst, ',')
	dst = strconv.AppendUint(dst, uint64(b.KeyVersion), 10)
	for _, cell := range []string{b.MasterKCV, b.TemplateHash, string(b.Outcome)} {
		dst = append(dst, ',')
		dst = appendCSVText(dst, cell)
	}
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, int64(b.Attempts), 10)
	dst = append(dst, ',')
	dst = strconv.AppendUint(dst, uint64(b.ReadCtr), 10)
	dst = append(dst, ',')
	dst = appendTime(dst, b.StartedAt)
	dst = append(dst, ',')
	dst = appendTime(dst, b.CompletedAt)
	return append(dst, '\n')
}

// AppendCSVTrailer appends the CSV manifest's last row: "#trailer" and
// key=value cells with what the JSON Lines header and trailer say.
func AppendCSVTrailer(dst []byte, h Header, s Summary) []byte {
	dst = append(dst, "#trailer"...)
	cells := [][2]string{
		{"format", Format},
		{"batch", h.Batch},
		{"sku", h.SKU},
		{"template", h.Template},
		{"key_version", strconv.Itoa(int(h.KeyVersion))},
		{"target", strconv.Itoa(h.Target)},
		{"station", h.Station},
		{"since", strconv.FormatUint(h.Since, 10)},
		{"count", strconv.Itoa(s.Count)},
		{"sha256", s.SHA256},
		{"next_since", strconv.FormatUint(s.NextSince, 10)},
	}
	if h.KDF != "" {
		cells = append(cells, [2]string{"kdf", h.KDF})
	}
	if h.Test {
		cells = append(cells, [2]string{"test", "true"})
	}
	if h.Simulated {
		cells = append(cells, [2]string{"simulated", "true"})
	}
	for _, kv := range cells {
		dst = append(dst, ',')
		dst = appendCSVField(dst, kv[0]+"="+kv[1])
	}
	return append(dst, '\n')
}

// appendCSVText writes a record's text cell. A cell that starts with '=',
// '+', '-', '@', a tab or a carriage return is a formula to a spreadsheet
// opening the manifest (CSV injection), so it gets a leading single quote,
// as OWASP advises: the spreadsheet then shows the text as it is. Only the
// SKU can start so (the other cells are hex, names that start with a
// letter or digit, and fixed words); the JSON Lines manifest and the
// trailer's sku= cell keep it unchanged.
func appendCSVText(dst []byte, f string) []byte {
	if len(f) > 0 {
		switch f[0] {
		case '=', '+', '-', '@', '\t', '\r':
			return appendCSVField(dst, "'"+f)
		}
	}
	return appendCSVField(dst, f)
}

// appendCSVField quotes as RFC 4180 (and encoding/csv) require: fields
// holding a comma, quote or line break, or starting with a space.
func appendCSVField(dst []byte, f string) []byte {
	need := f == `\.`
	for i := 0; i < len(f) && !need; i++ {
		switch f[i] {
		case ',', '"', '\r', '\n':
			need = true
		}
	}
	if len(f) > 0 && (f[0] == ' ' || f[0] == '\t') {
		need = true
	}
	if !need {
		return append(dst, f...)
	}
	dst = append(dst, '"')
	for i := 0; i < len(f); i++ {
		if f[i] == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, f[i])
	}
	return append(dst, '"')
}
