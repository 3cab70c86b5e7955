package sources

import (
	"encoding/json"
	"fmt"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
)

// OldNetworkStatusAnnot is the key older Multus releases wrote the network
// status under; the NAD client no longer has a constant for it.
const OldNetworkStatusAnnot = "k8s.v1.cni.cncf.io/networks-status"

// ParseNetworkStatus parses the JSON array of a network-status annotation.
// It parses all or nothing: on error no entry is returned.
func ParseNetworkStatus(data []byte) ([]nadv1.NetworkStatus, error) {
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
