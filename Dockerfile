# The release container image (built by GoReleaser from .goreleaser.yaml,
# which puts the static keyward binary next to this file): keyward and the
# git it needs for hooks, the CI gate and pre-receive, on Alpine.
#
#   docker run --rm -v "$PWD:/repo" -w /repo ghcr.io/keyward/keyward:VERSION scan --history
FROM alpine:3.20
RUN apk add --no-cache git ca-certificates \
 && git config --system --add safe.directory '*'
COPY keyward /usr/local/bin/keyward
ENTRYPOINT ["/usr/local/bin/keyward"]
