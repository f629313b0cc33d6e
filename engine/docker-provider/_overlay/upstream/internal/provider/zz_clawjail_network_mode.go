// Added by clawjail's engine/docker-provider/build.sh to its build copy of the upstream provider
// (patch_upstream.py points the container read at it).
//
// A container that joins another one's network namespace is configured by name
// ("container:clawjail-gateway": the name is what the policy pack checks), but Docker reports
// the joined container's id ("container:<64 hex>"). Read back as it is, every refresh would see
// a change and replace the container. The configured name is kept while it still names the very
// container Docker reports; when it does not (the namespace owner was replaced and this
// container still sits in the old one's namespace), the live id is reported and the difference
// shows as drift.

package provider

import (
	"context"
	"strings"

	"github.com/docker/docker/client"
)

func clawjailNetworkModeForState(ctx context.Context, c *client.Client, configured, live string) string {
	const prefix = "container:"
	if configured == live || !strings.HasPrefix(configured, prefix) || !strings.HasPrefix(live, prefix) {
		return live
	}
	target, err := c.ContainerInspect(ctx, strings.TrimPrefix(configured, prefix))
	if err != nil || target.ID != strings.TrimPrefix(live, prefix) {
		return live
	}
	return configured
}
