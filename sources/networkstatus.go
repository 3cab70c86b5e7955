package sources

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
)

// OldNetworkStatusAnnot is the key older Multus releases wrote the network
// status under; the NAD client no longer has a constant for it.
const OldNetworkStatusAnnot = "k8s.v1.cni.cncf.io/networks-status"

// MaxNetworks bounds the entries of a network-status. No CNI attaches
// thousands of networks to a pod, while each entry costs the sidecar about
// 1 KiB even when empty: without a bound, 4 MiB of "{}," entries (within
// MaxPodinfoSize) grew it to 1.2 GiB and 256 KiB (the API server's limit on
// a pod's annotations) to 90 MiB.
const MaxNetworks = 4096

// ErrTooManyNetworks means a network-status has more than MaxNetworks entries.
var ErrTooManyNetworks = errors.New("too many networks")

// ParseNetworkStatus parses the JSON array of a network-status annotation.
// It parses all or nothing: on error no entry is returned. An array of more
// than MaxNetworks entries is refused before any entry is decoded.
func ParseNetworkStatus(data []byte) ([]nadv1.NetworkStatus, error) {
	if n := topLevelElements(data); n > MaxNetworks {
		return nil, fmt.Errorf("parse network-status: more than %d entries: %w", MaxNetworks, ErrTooManyNetworks)
	}
	var statuses []nadv1.NetworkStatus
	if err := json.Unmarshal(data, &statuses); err != nil {
		return nil, fmt.Errorf("parse network-status: %w", err)
	}
	return statuses, nil
}

// NetworkStatusFromAnnotations returns the pod's network-status entries from
// its annotations, preferring the current key over the older one. A pod
// without either annotation has no attachments, which is not an error.
func NetworkStatusFromAnnotations(annotations map[string]string) ([]nadv1.NetworkStatus, error) {
	for _, key := range []string{nadv1.NetworkStatusAnnot, OldNetworkStatusAnnot} {
		if value, ok := annotations[key]; ok {
			statuses, err := ParseNetworkStatus([]byte(value))
			if err != nil {
				return nil, fmt.Errorf("annotation %s: %w", key, err)
			}
			return statuses, nil
		}
	}
	return nil, nil
}

// topLevelElements counts the elements of data's top-level JSON array
// without allocating, stopping once there are more than MaxNetworks. It
// returns 0 for anything that is not valid JSON or not an array, which
// json.Unmarshal then reports or accepts as before.
func topLevelElements(data []byte) int {
	if !json.Valid(data) {
		return 0
	}
	data = bytes.TrimLeft(data, " \t\r\n")
	if len(data) == 0 || data[0] != '[' {
		return 0
	}
	n, depth, inString, escaped, empty := 0, 0, false, false, true
	for _, c := range data {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '"':
			inString = true
		case ',':
			if depth == 1 {
				if n++; n > MaxNetworks {
					return n
				}
			}
			continue
		}
		if depth == 1 && c != ']' {
			empty = false
		}
		switch c {
		case '[', '{':
			depth++
		case ']', '}':
			depth--
		}
	}
	if empty {
		return 0
	}
	return n + 1
}
