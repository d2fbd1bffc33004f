//! `scan -l/--selector` and `--field-selector`: kubectl's selector grammars, parsed once so an
//! invalid one is refused before anything is read, and matched against snapshot pods exactly as
//! the API server matches live ones.
//!
//! Labels take the full grammar of `kubectl get -l` (apimachinery's `labels.Parse`): `k=v`,
//! `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k` and `!k`, comma-joined (all must hold).
//! Fields take `=`, `==` and `!=` on the fields the API server indexes for pods
//! (<https://kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/>); a
//! missing field compares as the empty string, so `spec.nodeName=` finds unscheduled pods.
//! Errors use the API server's words, which is what kubectl prints for them.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;

/// The pod fields a field selector may name.
pub const POD_FIELDS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
];

/// A selector that cannot be used, in the API server's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// `-l` does not parse.
    #[error("unable to parse requirement: {0}")]
    Label(String),
    /// `--field-selector` does not parse.
    #[error("invalid selector: '{0}'; can't understand '{1}'")]
    Field(String, String),
    /// `--field-selector` names a field pods are not indexed by.
    #[error("field label not supported: {0}")]
    FieldNotSupported(String),
}

/// One label requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Label {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed `-l` selector; empty selects everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector(Vec<Label>);

/// A parsed `--field-selector`: (field, equal?, value), all of which must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl LabelSelector {
    /// Parses kubectl's label selector grammar.
    pub fn parse(text: &str) -> Result<LabelSelector, SelectorError> {
        let err = |m: String| SelectorError::Label(m);
        let mut out = Vec::new();
        let mut rest = text.trim();
        while !rest.is_empty() {
            let (req, tail) = one_requirement(rest).map_err(err)?;
            out.push(req);
            rest = tail.trim_start();
            if let Some(t) = rest.strip_prefix(',') {
                rest = t.trim_start();
                if rest.is_empty() {
                    return Err(err("found '', expected: identifier after ','".into()));
                }
            } else if !rest.is_empty() {
                let word = rest.split([' ', ',']).next().unwrap_or(rest);
                return Err(err(format!(
                    "found '{word}', expected: ',' or 'end of string'"
                )));
            }
        }
        Ok(LabelSelector(out))
    }

    /// Whether a label set satisfies every requirement.
    pub fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k));
        self.0.iter().all(|r| match r {
            Label::In(k, vs) => get(k).is_some_and(|v| vs.contains(v)),
            Label::NotIn(k, vs) => get(k).is_none_or(|v| !vs.contains(v)),
            Label::Exists(k) => get(k).is_some(),
            Label::NotExists(k) => get(k).is_none(),
        })
    }

    /// True when it selects everything.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Characters a label key or value may hold (the grammar's identifier).
fn ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_./".contains(c)
}

/// Splits the identifier at the start of `s`.
fn ident(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !ident_char(c)).unwrap_or(s.len());
    s.split_at(end)
}

/// Checks a label key (optional DNS prefix, then a name of at most 63 characters).
fn check_key(key: &str) -> Result<(), String> {
    let name = key.rsplit_once('/').map_or(key, |(_, n)| n);
    let ok_name = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if key.is_empty() || !ok_name || key.matches('/').count() > 1 {
        return Err(format!(
            "key: Invalid value: \"{key}\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        ));
    }
    Ok(())
}

/// Parses one requirement at the start of `s`, returning it and what follows.
fn one_requirement(s: &str) -> Result<(Label, &str), String> {
    if let Some(t) = s.strip_prefix('!') {
        let (key, rest) = ident(t.trim_start());
        if key.is_empty() {
            return Err(format!(
                "found '{}', expected: identifier",
                first_word(rest)
            ));
        }
        check_key(key)?;
        return Ok((Label::NotExists(key.into()), rest));
    }
    let (key, rest) = ident(s);
    if key.is_empty() {
        return Err(format!(
            "found '{}', expected: !, identifier, or 'end of string'",
            first_word(s)
        ));
    }
    check_key(key)?;
    let after = rest.trim_start();
    let (op, tail) = if let Some(t) = after.strip_prefix("!=") {
        ("!=", t)
    } else if let Some(t) = after.strip_prefix("==") {
        ("=", t)
    } else if let Some(t) = after.strip_prefix('=') {
        ("=", t)
    } else if let Some(t) = word_op(after, "notin") {
        ("notin", t)
    } else if let Some(t) = word_op(after, "in") {
        ("in", t)
    } else if after.is_empty() || after.starts_with(',') {
        return Ok((Label::Exists(key.into()), rest));
    } else {
        return Err(format!(
            "found '{}', expected: in, notin, =, ==, !=, gt, lt",
            first_word(after)
        ));
    };
    if op == "in" || op == "notin" {
        let t = tail.trim_start();
        let Some(inner) = t.strip_prefix('(') else {
            return Err(format!("found '{}', expected: '('", first_word(t)));
        };
        let Some((list, after_list)) = inner.split_once(')') else {
            return Err("found '', expected: ',', or ')'".into());
        };
        let values: Vec<String> = list.split(',').map(|v| v.trim().to_string()).collect();
        if let Some(bad) = values.iter().find(|v| !v.chars().all(ident_char)) {
            return Err(format!("found '{bad}', expected: ',', or ')'"));
        }
        let req = if op == "in" {
            Label::In(key.into(), values)
        } else {
            Label::NotIn(key.into(), values)
        };
        return Ok((req, after_list));
    }
    let (value, after_value) = ident(tail.trim_start());
    let next = after_value.trim_start();
    if !(next.is_empty() || next.starts_with(',')) {
        return Err(format!(
            "found '{}', expected: ',' or 'end of string'",
            first_word(next)
        ));
    }
    let values = vec![value.to_string()];
    let req = if op == "!=" {
        Label::NotIn(key.into(), values)
    } else {
        Label::In(key.into(), values)
    };
    Ok((req, after_value))
}

/// `in`/`notin` as a whole word followed by space or `(`.
fn word_op<'a>(s: &'a str, word: &str) -> Option<&'a str> {
    let t = s.strip_prefix(word)?;
    t.starts_with([' ', '(']).then_some(t)
}

fn first_word(s: &str) -> &str {
    let s = s.trim_start();
    let end = s.find([' ', ',', '(', ')']).unwrap_or(s.len());
    &s[..end
        .max(s.chars().next().map_or(0, char::len_utf8))
        .min(s.len())]
}

impl FieldSelector {
    /// Parses `field=value,field!=value` over [`POD_FIELDS`].
    pub fn parse(text: &str) -> Result<FieldSelector, SelectorError> {
        let mut out = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, eq, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, true, v)
            } else {
                return Err(SelectorError::Field(text.to_string(), part.to_string()));
            };
            let field = field.trim();
            if !POD_FIELDS.contains(&field) {
                return Err(SelectorError::FieldNotSupported(field.to_string()));
            }
            out.push((field.to_string(), eq, value.trim().to_string()));
        }
        Ok(FieldSelector(out))
    }

    /// Whether a pod satisfies every requirement.
    pub fn matches(&self, pod: &Pod) -> bool {
        self.0
            .iter()
            .all(|(f, eq, want)| (pod_field(pod, f) == *want) == *eq)
    }

    /// True when it selects everything.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A pod's value for one selectable field; absent is "".
fn pod_field(pod: &Pod, field: &str) -> String {
    let m = &pod.metadata;
    let spec = pod.spec.as_ref();
    let status = pod.status.as_ref();
    let v = match field {
        "metadata.name" => m.name.clone(),
        "metadata.namespace" => m.namespace.clone(),
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()),
        "spec.restartPolicy" => spec.and_then(|s| s.restart_policy.clone()),
        "spec.schedulerName" => spec.and_then(|s| s.scheduler_name.clone()),
        "spec.serviceAccountName" => spec.and_then(|s| s.service_account_name.clone()),
        "status.phase" => status.and_then(|s| s.phase.clone()),
        "status.podIP" => status.and_then(|s| s.pod_ip.clone()),
        "status.nominatedNodeName" => status.and_then(|s| s.nominated_node_name.clone()),
        _ => None,
    };
    v.unwrap_or_default()
}

/// Both selectors of one scan.
#[derive(Debug, Clone, Default)]
pub struct PodSelectors {
    /// `-l`, as the user wrote it (sent to the API as written).
    pub label_text: Option<String>,
    /// `--field-selector`, as written.
    pub field_text: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl PodSelectors {
    /// Parses both; empty or absent selects everything.
    pub fn parse(
        labels: Option<&str>,
        fields: Option<&str>,
    ) -> Result<PodSelectors, SelectorError> {
        let keep = |s: Option<&str>| s.map(str::trim).filter(|s| !s.is_empty()).map(String::from);
        Ok(PodSelectors {
            labels: LabelSelector::parse(labels.unwrap_or(""))?,
            fields: FieldSelector::parse(fields.unwrap_or(""))?,
            label_text: keep(labels),
            field_text: keep(fields),
        })
    }

    /// Whether a pod is selected.
    pub fn matches(&self, pod: &Pod) -> bool {
        self.labels.matches(pod.metadata.labels.as_ref()) && self.fields.matches(pod)
    }

    /// True when both select everything.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn label_grammar() {
        let l = labels(&[("app", "web"), ("tier", "front")]);
        let yes = |s: &str| LabelSelector::parse(s).unwrap().matches(Some(&l));
        assert!(yes("app=web") && yes("app==web") && yes("app!=db") && yes("app"));
        assert!(yes("!env") && yes("tier in (front, back)") && yes("app notin (db)"));
        assert!(yes("app=web,tier in (front)") && yes(""));
        assert!(!yes("app=db") && !yes("!app") && !yes("tier notin (front)") && !yes("env"));
        assert!(yes("env!=prod"), "a missing label is not equal");
    }

    #[test]
    fn label_errors_read_like_the_api_servers() {
        for (s, says) in [
            ("app in web", "expected: '('"),
            ("app in (web", "expected: ',', or ')'"),
            ("=web", "expected: !, identifier"),
            ("app=web,", "after ','"),
            ("app web", "expected: in, notin"),
        ] {
            let e = LabelSelector::parse(s).unwrap_err().to_string();
            assert!(
                e.starts_with("unable to parse requirement: ") && e.contains(says),
                "{s}: {e}"
            );
        }
    }

    #[test]
    fn field_grammar() {
        assert!(FieldSelector::parse("spec.nodeName=worker-1,status.phase!=Running").is_ok());
        assert_eq!(
            FieldSelector::parse("spec.foo=x").unwrap_err().to_string(),
            "field label not supported: spec.foo"
        );
        assert_eq!(
            FieldSelector::parse("status.phase")
                .unwrap_err()
                .to_string(),
            "invalid selector: 'status.phase'; can't understand 'status.phase'"
        );
    }
}
