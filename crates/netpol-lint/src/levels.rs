//! Severity overrides (`--deny`, `--warn`, `--allow`): by code, by lint group, or
//! `warnings` for every warning, applied to a run's diagnostics in one place.

use netpol_diag::{Code, Diagnostic, Severity};

/// What an override does to the diagnostics it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Drop them.
    Allow,
    /// Report them as warnings.
    Warn,
    /// Report them as errors (exit code 1).
    Deny,
}

/// Lint groups, by name.
pub const GROUPS: &[(&str, &[Code])] = &[
    (
        "selectors",
        &[
            Code::SelectorMatchesNothing,
            Code::SelectorNeverMatches,
            Code::IpblockFullyExcepted,
            Code::UnknownNamespace,
            Code::UnknownLabelKey,
        ],
    ),
    ("dns", &[Code::DnsUnreachable, Code::DnsPortTcpOnly]),
    ("coverage", &[Code::PodNotIsolated, Code::NoDefaultDeny]),
    (
        "named-ports",
        &[
            Code::NamedPortUnresolved,
            Code::NamedPortAmbiguous,
            Code::NamedPortUnion,
        ],
    ),
    (
        "dead",
        &[
            Code::PolicyWithoutEffect,
            Code::RuleWithoutEffect,
            Code::PolicySelectsHostNetworkOnly,
            Code::DuplicatePolicy,
        ],
    ),
    (
        "vpc-cni",
        &[
            Code::NamedPortUnion,
            Code::RulesOutsidePolicyTypes,
            Code::StrictModeUnselected,
            Code::HostNetworkPeer,
            Code::ServicePortRemapped,
            Code::ServiceViaPodIpblock,
            Code::PortSlotsTruncated,
            Code::SharedPodIdentifier,
            Code::ExceptBleed,
            Code::ExceptInherited,
        ],
    ),
];

/// What an override names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Code(Code),
    Group(&'static str, &'static [Code]),
    /// Every diagnostic whose severity is warning.
    Warnings,
}

impl std::str::FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Target, String> {
        if s == "warnings" {
            return Ok(Target::Warnings);
        }
        if let Some((name, codes)) = GROUPS.iter().find(|(n, _)| *n == s) {
            return Ok(Target::Group(name, codes));
        }
        s.parse::<Code>().map(Target::Code).map_err(|_| {
            let groups: Vec<&str> = GROUPS.iter().map(|(n, _)| *n).collect();
            format!(
                "`{s}` is not a diagnostic code (docs/diagnostics.md), a group ({}) or `warnings`",
                groups.join(", ")
            )
        })
    }
}

impl Target {
    /// Whether the target names this diagnostic (`warnings`: by its current severity).
    pub(crate) fn names(&self, d: &Diagnostic) -> bool {
        self.rank(d).is_some()
    }

    /// How specifically the target names `d`: a code 2, a group 1, `warnings` 0.
    fn rank(&self, d: &Diagnostic) -> Option<u8> {
        match self {
            Target::Code(c) => (*c == d.code).then_some(2),
            Target::Group(_, codes) => codes.contains(&d.code).then_some(1),
            Target::Warnings => (d.severity == Severity::Warning).then_some(0),
        }
    }
}

/// Where an override comes from: a command-line flag beats netpol.yaml's `lints:` section
/// at equal precedence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Origin {
    Config,
    Flag,
}

/// A run's overrides. A code named itself beats its group, a group beats `warnings`; at
/// equal precedence a flag beats the config, then the strictest level wins. Error codes
/// cannot be lowered: a broken input stays an error.
#[derive(Clone, Debug, Default)]
pub struct Levels {
    entries: Vec<(Target, Origin, Level)>,
}

impl Levels {
    /// An override from a command-line flag.
    pub fn add(&mut self, target: Target, level: Level) {
        self.add_from(Origin::Flag, target, level);
    }

    pub fn add_from(&mut self, origin: Origin, target: Target, level: Level) {
        self.entries.push((target, origin, level));
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The level in force for a diagnostic, if an override names it.
    fn level(&self, d: &Diagnostic) -> Option<Level> {
        self.entries
            .iter()
            .filter_map(|(t, o, l)| t.rank(d).map(|r| (r, *o, *l)))
            .max()
            .map(|(_, _, l)| l)
    }

    /// Applies the overrides: allowed diagnostics are dropped, the others get the level's
    /// severity.
    pub fn apply(&self, diags: &mut Vec<Diagnostic>) {
        if self.is_empty() {
            return;
        }
        diags.retain_mut(|d| {
            let fixed = d.code.default_severity() == Severity::Error;
            match self.level(d) {
                None => true,
                Some(_) if fixed => true,
                Some(Level::Allow) => false,
                Some(Level::Warn) => {
                    d.severity = Severity::Warning;
                    true
                }
                Some(Level::Deny) => {
                    d.severity = Severity::Error;
                    true
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diag(code: Code) -> Diagnostic {
        Diagnostic::new(code, "m")
    }

    #[test]
    fn groups_do_not_shadow_codes_nor_repeat_one() {
        for (name, codes) in GROUPS {
            assert!(name.parse::<Code>().is_err(), "group {name} shadows a code");
            let mut seen = codes.to_vec();
            seen.sort();
            seen.dedup();
            assert_eq!(seen.len(), codes.len(), "{name}");
        }
    }

    #[test]
    fn code_beats_group_beats_warnings() {
        let mut levels = Levels::default();
        levels.add("warnings".parse().unwrap(), Level::Deny);
        levels.add("coverage".parse().unwrap(), Level::Allow);
        levels.add("no-default-deny".parse().unwrap(), Level::Warn);
        let mut diags = vec![
            diag(Code::PodNotIsolated),
            diag(Code::NoDefaultDeny),
            diag(Code::DnsUnreachable),
            diag(Code::SyntaxError),
        ];
        levels.apply(&mut diags);
        let got: Vec<(Code, Severity)> = diags.iter().map(|d| (d.code, d.severity)).collect();
        assert_eq!(
            got,
            [
                (Code::NoDefaultDeny, Severity::Warning),
                (Code::DnsUnreachable, Severity::Error),
                (Code::SyntaxError, Severity::Error),
            ]
        );
    }

    #[test]
    fn flags_beat_the_config_at_equal_precedence_only() {
        let mut levels = Levels::default();
        let cfg =
            |l: &mut Levels, t: &str, level| l.add_from(Origin::Config, t.parse().unwrap(), level);
        cfg(&mut levels, "dns-unreachable", Level::Allow);
        cfg(&mut levels, "no-default-deny", Level::Deny);
        cfg(&mut levels, "pod-not-isolated", Level::Deny);
        levels.add("warnings".parse().unwrap(), Level::Deny);
        levels.add("coverage".parse().unwrap(), Level::Allow);
        levels.add("no-default-deny".parse().unwrap(), Level::Warn);
        let mut diags = vec![
            diag(Code::DnsUnreachable),
            diag(Code::NoDefaultDeny),
            diag(Code::PodNotIsolated),
            diag(Code::UnknownLabelKey),
        ];
        levels.apply(&mut diags);
        let got: Vec<(Code, Severity)> = diags.iter().map(|d| (d.code, d.severity)).collect();
        assert_eq!(
            got,
            [
                // A flag beats the config on the same code.
                (Code::NoDefaultDeny, Severity::Warning),
                // The config's code beats the flags' group.
                (Code::PodNotIsolated, Severity::Error),
                (Code::UnknownLabelKey, Severity::Error),
            ]
        );
    }

    #[test]
    fn errors_cannot_be_allowed() {
        let mut levels = Levels::default();
        levels.add("syntax-error".parse().unwrap(), Level::Allow);
        let mut diags = vec![diag(Code::SyntaxError)];
        levels.apply(&mut diags);
        assert_eq!(diags.len(), 1);
        assert!(diags[0].is_error());
    }

    #[test]
    fn unknown_targets_are_refused() {
        let err = "no-such-lint".parse::<Target>().unwrap_err();
        assert!(err.contains("coverage"), "{err}");
    }
}
