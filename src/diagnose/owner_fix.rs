//! Fixes that change the pod or its owner: a pull secret added to the owner's template (a
//! Deployment's, a CronJob's job template), the service account's list, or the pod recreated,
//! because a pod's `imagePullSecrets` cannot be changed in place and a ReplicaSet would only
//! recreate the old spec. Every name is checked before it reaches a command; JSON is built by
//! serde, never by string pasting.

use serde_json::json;

use super::evidence::Evidence;
use super::names::namespace_args;
use super::names::{Grammar, Rejected, check, inert};
use super::shell::Script;
use super::step::{Fix, Step, command, note, steps};

/// The JSON merge that adds a pull secret at the right depth of the owner's spec.
fn pull_secret_patch(kind: &str, secret: &str) -> String {
    let inner = json!({"imagePullSecrets": [{"name": secret}]});
    let patch = match kind {
        "Pod" | "" => json!({"spec": inner}),
        "CronJob" => json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": inner}}}}}),
        _ => json!({"spec": {"template": {"spec": inner}}}),
    };
    patch.to_string()
}

/// The fix target's kind and name, checked, with `kubectl`'s lower-case resource name.
pub(super) fn target(ev: &Evidence) -> Result<(String, &str), Rejected> {
    let t = &ev.target;
    let kind = check(Grammar::Kind, "owner kind", &t.kind)?;
    let what = format!("{} name", inert(kind));
    let name = check(Grammar::Object, &what, &t.name)?;
    Ok((kind.to_ascii_lowercase(), name))
}

/// `kubectl get pod NAME -n NS -o json | jq FILTER | kubectl replace --force -f -`.
fn replace_pod(ev: &Evidence, filter: &str) -> Result<Script, Rejected> {
    let name = check(Grammar::Object, "pod name", &ev.target.name)?;
    let mut get = vec![
        "kubectl".to_string(),
        "get".into(),
        "pod".into(),
        name.into(),
    ];
    get.extend(namespace_args(ev)?);
    get.extend(["-o".to_string(), "json".into()]);
    Ok(Script::new(get)
        .pipe(["jq", filter])
        .pipe(["kubectl", "replace", "--force", "-f", "-"]))
}

/// Steps that make the pod carry `secret`.
pub(super) fn reference_secret(ev: &Evidence, secret: &str) -> Vec<Fix> {
    let t = &ev.target;
    if t.kind.is_empty() {
        return Vec::new();
    }
    let secret = match check(Grammar::Secret, "pull secret name", secret) {
        Ok(s) => s,
        Err(r) => return vec![r.note()],
    };
    let entry = json!({"name": secret});
    let mut out: Vec<Step> = Vec::new();
    if t.kind == "Pod" {
        out.push(
            replace_pod(ev, &format!(".spec.imagePullSecrets += [{entry}]")).map(|s| {
                command(
                    format!(
                        "Recreate pod {} with imagePullSecrets (a pod's spec cannot be patched)",
                        t.name
                    ),
                    s,
                )
            }),
        );
        if t.bare_pod {
            out.push((|| {
                let (_, name) = target(ev)?;
                let image = check(Grammar::Image, "image", &ev.image)?;
                let mut argv = vec!["kubectl".to_string(), "run".into(), name.into()];
                argv.extend(namespace_args(ev)?);
                argv.push(format!("--image={image}"));
                argv.push(format!("--overrides={}", pull_secret_patch("Pod", secret)));
                Ok(command(
                    "Or start it again with kubectl run",
                    Script::new(argv),
                ))
            })());
        }
    } else {
        out.push((|| {
            let (kind, name) = target(ev)?;
            let mut argv = vec!["kubectl".to_string(), "patch".into(), kind, name.into()];
            argv.extend(namespace_args(ev)?);
            argv.extend([
                "--type=strategic".to_string(),
                "-p".into(),
                pull_secret_patch(&t.kind, secret),
            ]);
            Ok(command(
                format!("Reference {secret} from {} {}", t.kind, t.name),
                Script::new(argv),
            ))
        })());
    }
    out.push((|| {
        let sa = if t.service_account.is_empty() {
            "default"
        } else {
            check(Grammar::ServiceAccount, "service account name", &t.service_account)?
        };
        let mut argv = vec!["kubectl".to_string(), "patch".into(), "serviceaccount".into(), sa.into()];
        argv.extend(namespace_args(ev)?);
        argv.extend(["-p".to_string(), json!({"imagePullSecrets": [entry]}).to_string()]);
        Ok(command(
            format!("Or give every new pod of service account {sa} the secret (existing pods keep their spec; this replaces the account's list)"),
            Script::new(argv),
        ))
    })());
    steps(out)
}

/// The service account already lists the secret; pods created before that lack it, and only
/// new pods get it copied in by the admission plugin.
pub(super) fn restart_fixes(ev: &Evidence) -> Vec<Fix> {
    let t = &ev.target;
    if t.kind.is_empty() || t.kind == "Pod" {
        return steps([replace_pod(ev, "del(.spec.imagePullSecrets)").map(|s| {
            command(
                format!(
                    "Recreate pod {} so admission copies the service account's pull secrets",
                    t.name
                ),
                s,
            )
        })]);
    }
    let kind = t.kind.to_ascii_lowercase();
    let restartable = matches!(kind.as_str(), "deployment" | "statefulset" | "daemonset");
    if restartable {
        steps([(|| {
            let (kind, name) = target(ev)?;
            let mut argv = vec![
                "kubectl".to_string(),
                "rollout".into(),
                "restart".into(),
                format!("{kind}/{name}"),
            ];
            argv.extend(namespace_args(ev)?);
            Ok(command(
                format!(
                    "Restart {} {}: new pods get the service account's pull secrets",
                    t.kind, t.name
                ),
                Script::new(argv),
            ))
        })()])
    } else {
        vec![note(format!(
            "Delete the pods of {} {} so they are recreated with the service account's pull secrets.",
            inert(&t.kind),
            inert(&t.name)
        ))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_land_at_the_right_depth() {
        let d = pull_secret_patch("Deployment", "s");
        assert_eq!(
            d,
            r#"{"spec":{"template":{"spec":{"imagePullSecrets":[{"name":"s"}]}}}}"#
        );
        let c = pull_secret_patch("CronJob", "s");
        let v: serde_json::Value = serde_json::from_str(&c).unwrap();
        assert_eq!(
            v["spec"]["jobTemplate"]["spec"]["template"]["spec"]["imagePullSecrets"][0]["name"],
            "s"
        );
        let p: serde_json::Value = serde_json::from_str(&pull_secret_patch("Pod", "s")).unwrap();
        assert_eq!(p["spec"]["imagePullSecrets"][0]["name"], "s");
    }
}
