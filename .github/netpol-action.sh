#!/usr/bin/env bash
# The shell steps of the netpol GitHub Action (action.yml), kept here so that a test can
# run them (crates/netpol-cli/tests/cli/ci.rs). One subcommand per step:
#
#   install   put a netpol binary on PATH: NETPOL_BIN if set, else a release binary for
#             the runner when the release has one, else `cargo install --locked` from the
#             action's own source
#   verify    netpol verify (assertions and the snapshot drift check) as SARIF into
#             NETPOL_SARIF; the human report goes to the log; exits like netpol verify
#   diff      netpol diff --git BASE..HEAD as a pull-request comment (Markdown) into
#             NETPOL_COMMENT; with NETPOL_FAIL_ON, exits like netpol diff --fail-on
#   comment   posts NETPOL_COMMENT on the pull request, or updates the comment an earlier
#             run posted (found by its marker line), with the GitHub CLI (NETPOL_GH, default
#             `gh`; a test puts a stub there)
#
# Inputs come as environment variables (action.yml maps its inputs onto them).
set -euo pipefail

netpol=${NETPOL_BIN:-netpol}
marker='<!-- netpol-diff -->'

install() {
    if [ -n "${NETPOL_BIN:-}" ]; then
        "$NETPOL_BIN" --version
        return
    fi
    local dest=${RUNNER_TEMP:-/tmp}/netpol-bin
    mkdir -p "$dest"
    # Release assets are named netpol-<target>.tar.gz, with the binary at the top.
    local target=
    case "${RUNNER_OS:-$(uname -s)}-${RUNNER_ARCH:-$(uname -m)}" in
        Linux-X64 | Linux-x86_64) target=x86_64-unknown-linux-gnu ;;
        Linux-ARM64 | Linux-aarch64) target=aarch64-unknown-linux-gnu ;;
        macOS-ARM64 | Darwin-arm64) target=aarch64-apple-darwin ;;
    esac
    if [ -n "$target" ] && [ -n "${NETPOL_RELEASE_URL:-}" ] &&
        curl -fsL "$NETPOL_RELEASE_URL/netpol-$target.tar.gz" | tar -xz -C "$dest" netpol 2>/dev/null; then
        echo "netpol: installed the release binary for $target" >&2
    else
        echo "netpol: no release binary for this runner; building from source" >&2
        # netpol links the system Z3.
        "${NETPOL_SOURCE:?}/.ci/setup"
        cargo install --locked --root "$dest" --path "$NETPOL_SOURCE/crates/netpol-cli"
        mv "$dest/bin/netpol" "$dest/netpol"
    fi
    echo "$dest" >>"${GITHUB_PATH:-/dev/null}"
    "$dest/netpol" --version
}

verify() {
    local args=()
    [ -n "${NETPOL_CONFIG:-}" ] && args+=(--config "$NETPOL_CONFIG")
    local status=0
    "$netpol" verify "${args[@]}" --format sarif >"${NETPOL_SARIF:-netpol.sarif}" || status=$?
    if [ "$status" -ne 0 ]; then
        # The report for people, in the log (the proofs run again only when something failed).
        "$netpol" verify "${args[@]}" || true
    fi
    return "$status"
}

diff() {
    local base=${NETPOL_BASE:?the base revision} head=${NETPOL_HEAD:-HEAD}
    # A shallow checkout lacks the base commit: fetch just that.
    if ! git cat-file -e "$base^{commit}" 2>/dev/null; then
        git fetch --no-tags --depth=1 origin "$base"
    fi
    local args=(--format md --git "$base..$head")
    [ -n "${NETPOL_FAIL_ON:-}" ] && args+=(--fail-on "$NETPOL_FAIL_ON")
    local status=0 out=${NETPOL_COMMENT:-netpol-comment.md}
    {
        echo "$marker"
        # shellcheck disable=SC2086 # NETPOL_PATHS is a list of paths
        "$netpol" diff "${args[@]}" -- ${NETPOL_PATHS:-.} || status=$?
    } >"$out"
    cat "$out"
    return "$status"
}

comment() {
    local gh=${NETPOL_GH:-gh} repo=${GITHUB_REPOSITORY:?} pr=${NETPOL_PR:?the pull request number}
    local body=${NETPOL_COMMENT:-netpol-comment.md}
    local id
    id=$("$gh" api "repos/$repo/issues/$pr/comments" --paginate \
        --jq ".[] | select(.body | startswith(\"$marker\")) | .id" | head -n 1)
    if [ -n "$id" ]; then
        "$gh" api --method PATCH "repos/$repo/issues/comments/$id" -F "body=@$body" >/dev/null
        echo "netpol: updated comment $id" >&2
    else
        "$gh" api --method POST "repos/$repo/issues/$pr/comments" -F "body=@$body" >/dev/null
        echo "netpol: commented on #$pr" >&2
    fi
}

case "${1:-}" in
    install | verify | diff | comment) "$1" ;;
    *)
        echo "usage: $0 install|verify|diff|comment" >&2
        exit 2
        ;;
esac
