#!/usr/bin/env python3
"""Our changes to the build copy of the upstream provider; build.sh runs this in that copy (the
module cache is never touched). Each edit must apply exactly once, or the build stops: a new
upstream version is then read again before it is trusted.

1. `uploads` (files written into a container before it first starts): upstream extracts the
   archive at "/" with the file's full path inside it. Docker refuses an archive extracted on a
   read-only root filesystem even when the file lands on a writable volume ("container rootfs is
   marked read-only"), and every container of the jail has a read-only root. Extracted in the
   file's own directory (the volume) it is accepted; the archive then holds the base name.
2. `network_mode` "container:<name>" is read back as Docker reports it, "container:<id>", so
   every refresh would replace a container that joins another's namespace (the cell). The read
   keeps the configured name while it names that same container
   (_overlay/upstream/internal/provider/zz_clawjail_network_mode.go).
"""
import re
import sys

EDITS = [
    ("internal/provider/resource_docker_container_funcs.go", "uploads: no extraction at /",
     r'\n(\t+)dstPath := "/"\n', "\n"),
    ("internal/provider/resource_docker_container_funcs.go", "uploads: extract in the file's directory",
     r'(\t+)hdr := &tar\.Header\{\n(\t+)Name:(\s+)file,',
     r'\1dstPath := path.Dir(file)\n\1hdr := &tar.Header{\n\2Name:\3path.Base(file),'),
    ("internal/provider/resource_docker_container_funcs.go", "uploads: import path",
     r'\n\t"os/user"\n', '\n\t"os/user"\n\t"path"\n'),
    ("internal/provider/resource_docker_container_funcs.go", "network_mode: keep the configured name",
     r'd\.Set\("network_mode", container\.HostConfig\.NetworkMode\)',
     'd.Set("network_mode", clawjailNetworkModeForState(ctx, client, d.Get("network_mode").(string), string(container.HostConfig.NetworkMode)))'),
]

for path, what, pattern, replacement in EDITS:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    text, n = re.subn(pattern, replacement, text)
    if n != 1:
        sys.exit(f"patch_upstream.py: {what}: matched {n} times in {path}; the upstream source changed")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"patch_upstream.py: {what}")
