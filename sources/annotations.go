package sources

import (
	"bytes"
	"fmt"
	"strconv"
)

// ParseAnnotations parses a Downward API labels or annotations file as the
// kubelet writes it (k8s.io/kubernetes/pkg/fieldpath.FormatMap): one
// key="value" line per entry, the value quoted as strconv.Quote does, lines
// joined by "\n" with no newline after the last one. Blank lines are ignored.
func ParseAnnotations(data []byte) (map[string]string, error) {
	annotations := make(map[string]string)
	for n, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		key, quoted, ok := bytes.Cut(line, []byte("="))
		if !ok || len(key) == 0 {
			return nil, fmt.Errorf("line %d: want key=\"value\", got %q", n+1, truncate(line))
		}
		value, err := strconv.Unquote(string(quoted))
		if err != nil {
			return nil, fmt.Errorf("line %d: value of %q is not a quoted string: %w", n+1, key, err)
		}
		annotations[string(key)] = value
	}
	return annotations, nil
}

// truncate keeps error messages readable when a line is huge.
func truncate(b []byte) []byte {
	const max = 80
	if len(b) <= max {
		return b
	}
	return append(b[:max:max], "…"...)
}
