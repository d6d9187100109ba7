//! The one list of diagnostic codes. A code's kebab-case name is a stable, user-visible
//! contract: it appears in every output format, in severity overrides and in the docs.

use std::fmt;

use serde::Serialize;

/// How bad a diagnostic is. Errors make `netpol` exit with 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Note,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! codes {
    ($($variant:ident => $name:literal, $severity:ident, $description:literal;)*) => {
        /// A stable diagnostic code. Each has a page section in `docs/diagnostics.md`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $(#[doc = $description] $variant,)*
        }

        impl Code {
            /// Every code, in declaration order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable kebab-case name.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            /// The severity a diagnostic with this code gets unless overridden.
            pub fn default_severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$severity,)* }
            }

            /// One line saying what the code means.
            pub fn description(self) -> &'static str {
                match self { $(Code::$variant => $description,)* }
            }
        }
    };
}

codes! {
    // Reading input.
    IoError => "io-error", Error, "A file or folder could not be read.";
    SymlinkLoop => "symlink-loop", Error, "A symbolic link points back into a folder being read.";
    FileTooLarge => "file-too-large", Error, "A file is larger than the configured size limit.";
    NotAFile => "not-a-file", Error, "An input path is a FIFO, socket or device, not a regular file.";
    InvalidUtf8 => "invalid-utf8", Error, "A document is not valid UTF-8.";
    EmptyInput => "empty-input", Warning, "A file or stream holds no Kubernetes object.";
    SyntaxError => "syntax-error", Error, "A YAML or JSON document is malformed.";
    InvalidSeparator => "invalid-separator", Error, "A line starts with `---` but holds more than a comment.";
    IgnoredContent => "ignored-content", Warning, "Text after a `...` line that kubectl does not read.";
    AliasLimit => "alias-limit", Error, "YAML aliases expand beyond the configured limit.";
    NestingTooDeep => "nesting-too-deep", Error, "A document is nested deeper than the configured limit.";
    // Document shape.
    InvalidDocument => "invalid-document", Error, "A document is not a Kubernetes object: no mapping, apiVersion or kind.";
    NotAManifest => "not-a-manifest", Note, "A `.json` file found in a manifest folder is not a Kubernetes object; it is skipped.";
    SchemaError => "schema-error", Error, "A field has the wrong type or a required field is missing.";
    UnknownField => "unknown-field", Error, "An object has a field that its Kubernetes schema does not define.";
    MissingName => "missing-name", Error, "An object has no metadata.name.";
    UnsupportedKind => "unsupported-kind", Note, "An object of a kind netpol does not model was skipped.";
    CreatesPods => "creates-pods", Warning, "An operator's object (such as a Prometheus) runs pods that netpol cannot see.";
    PodNotRunning => "pod-not-running", Note, "A Pod that no controller owns has finished (status.phase Succeeded or Failed), so it is not an endpoint.";
    InvalidPodIp => "invalid-pod-ip", Warning, "A Pod's address (status.podIP, or the vpc.amazonaws.com/pod-ips annotation) is not an IP address, so the pod's address is taken as unknown.";
    UnsupportedApiVersion => "unsupported-api-version", Warning, "A known kind uses an API version netpol does not read.";
    DuplicateObject => "duplicate-object", Error, "The same object (kind, namespace, name) appears twice.";
    DuplicateKey => "duplicate-key", Error, "A YAML mapping or JSON object repeats a key.";
    Yaml11Boolean => "yaml11-boolean", Warning, "An unquoted scalar such as yes/no/on/off reads differently in YAML 1.1 and 1.2.";
    Yaml11Octal => "yaml11-octal", Warning, "An unquoted number with a leading zero reads differently in YAML 1.1 and 1.2.";
    // API-server validation.
    InvalidName => "invalid-name", Error, "An object or namespace name is not a valid DNS name.";
    InvalidLabelKey => "invalid-label-key", Error, "A label key is not a valid qualified name.";
    InvalidLabelValue => "invalid-label-value", Error, "A label value is not valid.";
    InvalidSelectorOperator => "invalid-selector-operator", Error, "A matchExpressions operator is not In, NotIn, Exists or DoesNotExist.";
    InvalidSelectorValues => "invalid-selector-values", Error, "A matchExpressions values list does not fit its operator.";
    EmptyPeer => "empty-peer", Error, "A NetworkPolicy peer sets none of podSelector, namespaceSelector and ipBlock.";
    PeerIpBlockWithSelector => "peer-ipblock-with-selector", Error, "A NetworkPolicy peer sets ipBlock together with a selector.";
    InvalidCidr => "invalid-cidr", Error, "A CIDR does not parse.";
    NonCanonicalCidr => "non-canonical-cidr", Warning, "A CIDR has host bits set; it is read with them cleared.";
    ExceptOutsideCidr => "except-outside-cidr", Error, "An ipBlock except entry is not strictly inside its cidr.";
    PortOutOfRange => "port-out-of-range", Error, "A port number is outside 1-65535.";
    EndPortBeforePort => "end-port-before-port", Error, "endPort is smaller than port.";
    EndPortWithNamedPort => "end-port-with-named-port", Error, "endPort is set together with a named port, or without a port.";
    DuplicatePortName => "duplicate-port-name", Warning, "Two container ports of one pod share a name.";
    InvalidPortName => "invalid-port-name", Error, "A named port is not a valid IANA service name.";
    InvalidProtocol => "invalid-protocol", Error, "A protocol is not TCP, UDP or SCTP.";
    InvalidPolicyType => "invalid-policy-type", Error, "A policyTypes entry is not Ingress or Egress, or is repeated.";
    // Semantics.
    IpBlockPartialPodCidr => "ipblock-partial-pod-cidr", Warning, "An ipBlock covers part of the pod CIDRs, so whether it matches a workload depends on the pod's IP.";
    IpBlockPartialServiceCidr => "ipblock-partial-service-cidr", Warning, "An egress ipBlock covers part of the range a ClusterIP missing from the manifests comes from, so whether it admits the Service depends on its address.";
    OtherIpFamily => "other-ip-family", Warning, "An address of the IP family the cluster does not use (cluster.ipFamily), or under VPC CNI an except of that family that the kernel refuses: verify cannot place it.";
    ExceptOtherFamily => "except-other-family", Warning, "Under VPC CNI, an ipBlock except of the IP family the cluster does not use becomes a deny-all key of the cluster's family.";
    VersionNotModelled => "version-not-modelled", Warning, "The configured VPC CNI agent or controller release behaves differently from the releases netpol models, in a way the input depends on.";
    VersionNewerThanModelled => "version-newer-than-modelled", Warning, "The configured VPC CNI agent or controller release is newer than the releases netpol has read: it is taken to behave as those.";
    PolicyNotModelled => "policy-not-modelled", Warning, "A ClusterNetworkPolicy, AdminNetworkPolicy, BaselineAdminNetworkPolicy or ApplicationNetworkPolicy is not modelled yet: the matrix and the proofs ignore it.";
    ConnectionExplained => "connection-explained", Note, "How netpol decided whether one connection is allowed (netpol explain).";
    // netpol diff.
    FlowAdded => "flow-added", Warning, "A change opens a connection: new access (netpol diff).";
    FlowRemoved => "flow-removed", Note, "A change closes a connection: lost access (netpol diff).";
    FlowChanged => "flow-changed", Warning, "A change alters the ports of a connection; a warning when some port is new (netpol diff).";
    SnapshotDrift => "snapshot-drift", Error, "The connectivity differs from the committed snapshot (netpol verify); the flows that changed follow as flow-added, flow-removed and flow-changed.";
    // netpol.yaml and verification.
    InvalidConfig => "invalid-config", Error, "netpol.yaml is not a valid Verification file.";
    ManifestOutsideConfig => "manifest-outside-config", Error, "A `manifests` entry of netpol.yaml leads outside the config's folder; it is not read.";
    NoObjects => "no-objects", Error, "The input holds no Kubernetes object (an empty folder or stdin), so there is nothing to check.";
    UnknownReference => "unknown-reference", Error, "An assertion names a pod or workload that is not in the manifests.";
    VacuousAssertion => "vacuous-assertion", Warning, "An assertion's peers select nothing, so it holds trivially.";
    AssertionRefuted => "assertion-refuted", Error, "An assertion does not hold: a counterexample exists.";
    AssertionUnknown => "assertion-unknown", Error, "The solver could not decide an assertion within its limits.";
    ProofLimitation => "proof-limitation", Warning, "A scope-any proof under vpc-cni holds for the Services in the manifests, and an egress rule could admit a Service created later.";
    // Lints (netpol lint): selectors.
    SelectorMatchesNothing => "selector-matches-nothing", Warning, "A policy's podSelector or a rule's peer matches no pod or workload of the input.";
    SelectorNeverMatches => "selector-never-matches", Warning, "A selector contradicts itself, so no pod or namespace, present or future, can match it.";
    IpblockFullyExcepted => "ipblock-fully-excepted", Warning, "An ipBlock's except entries cover its whole cidr, so it matches no address.";
    UnknownNamespace => "unknown-namespace", Warning, "A namespaceSelector names (by kubernetes.io/metadata.name) a namespace the input does not define.";
    UnknownLabelKey => "unknown-label-key", Warning, "A selector uses a label key that no pod (or namespace) of the input carries.";
    // Lints: DNS.
    DnsUnreachable => "dns-unreachable", Warning, "An egress-isolated pod cannot reach the cluster DNS Service on UDP/53 and TCP/53.";
    // Lints: coverage.
    PodNotIsolated => "pod-not-isolated", Note, "No NetworkPolicy isolates a pod in a direction, so everything is allowed there.";
    NoDefaultDeny => "no-default-deny", Note, "A namespace has no default-deny policy for a direction.";
    // Lints: named ports.
    NamedPortUnresolved => "named-port-unresolved", Warning, "A named port in a rule resolves on no destination pod.";
    NamedPortAmbiguous => "named-port-ambiguous", Warning, "A named port in a rule resolves to different numbers on different destinations.";
    NamedPortUnion => "named-port-union", Warning, "Under VPC CNI, an ingress named port resolved over all selected pods opens a pod's port that it does not declare under that name.";
    // Lints: dead policies.
    PolicyWithoutEffect => "policy-without-effect", Warning, "Removing a NetworkPolicy leaves the matrix of the input unchanged.";
    RuleWithoutEffect => "rule-without-effect", Warning, "Removing one rule of a NetworkPolicy leaves the matrix of the input unchanged: other rules already allow its traffic.";
    PolicySelectsHostNetworkOnly => "policy-selects-host-network-only", Warning, "A NetworkPolicy selects only hostNetwork pods, where policies are not enforced.";
    DuplicatePolicy => "duplicate-policy", Warning, "Two NetworkPolicies of a namespace have the same podSelector, policyTypes and rules.";
    LintSkipped => "lint-skipped", Note, "A lint was not run because the input is larger than its size budget.";
    // Lints: VPC CNI pitfalls and hygiene.
    RulesOutsidePolicyTypes => "rules-outside-policy-types", Warning, "A NetworkPolicy has rules of a direction that its written policyTypes leaves out (ignored upstream, enforced by VPC CNI).";
    StrictModeUnselected => "strict-mode-unselected", Warning, "In VPC CNI strict mode, a pod that no NetworkPolicy selects denies all traffic.";
    HostNetworkPeer => "host-network-peer", Warning, "Under VPC CNI, a selector peer matches hostNetwork pods, so it allows their nodes' IPs.";
    ServicePortRemapped => "service-port-remapped", Warning, "Under VPC CNI, an egress rule admits a Service's ClusterIP on other Service ports than those whose targetPort it names (first matching Service port; a range by its start).";
    ServiceViaPodIpblock => "service-via-pod-ipblock", Warning, "Under VPC CNI, an egress ipBlock allows a Service's backend pods but not its ClusterIP, so connecting through the Service is denied.";
    PortSlotsTruncated => "port-slots-truncated", Warning, "Under VPC CNI, a pod has more than 24 port slots for one address key and direction, so the agent may drop some.";
    SharedPodIdentifier => "shared-pod-identifier", Warning, "Under VPC CNI, pods that share a pod identifier (name minus its last `-segment`) are selected by different policies, so the agent may apply one pod's policies to the other.";
    ExceptBleed => "except-bleed", Warning, "Under VPC CNI, an ipBlock `except` becomes a deny-all key for every rule of the pods its policy selects, so it denies traffic another rule allows.";
    ExceptInherited => "except-inherited", Warning, "Under VPC CNI, an ipBlock that starts outside another rule's `except` and reaches into it inherits that rule's ports there, so it allows traffic the except withholds.";
    DnsPortTcpOnly => "dns-port-tcp-only", Warning, "A rule opens port 53 without a protocol (so TCP only) and not UDP 53.";
    // Lints: suppressions.
    UnusedSuppression => "unused-suppression", Note, "A `netpol.dev/allow` annotation names a code that reports nothing in its object.";
    InvalidSuppression => "invalid-suppression", Warning, "A `netpol.dev/allow` annotation names something that is not a lint code or group, or an error code, which cannot be suppressed.";
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::str::FromStr for Code {
    type Err = String;

    fn from_str(s: &str) -> Result<Code, String> {
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown diagnostic code `{s}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_kebab_case() {
        let mut seen = std::collections::BTreeSet::new();
        for code in Code::ALL {
            let name = code.as_str();
            assert!(seen.insert(name), "duplicate code {name}");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{name} is not kebab-case"
            );
            assert_eq!(name.parse::<Code>(), Ok(*code));
        }
    }
}
