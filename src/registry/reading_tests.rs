//! Unit tests of `reading`: each dialect rule against hand-built steps.

use super::*;

#[test]
fn realms_are_read_from_the_challenge() {
    assert_eq!(
        realm_of(r#"Bearer realm="https://h.test/service/token",service="harbor-registry""#),
        Some("https://h.test/service/token".into())
    );
    assert_eq!(realm_of("Basic"), None);
    assert_eq!(
        param_of(r#"Bearer realm="r",error="insufficient_scope""#, "error"),
        Some("insufficient_scope".into())
    );
}

fn step(name: StepName, status: u16, code: Option<&str>, message: &str) -> Step {
    Step {
        name,
        method: "GET".into(),
        url: "https://reg.test/v2/app/manifests/1".into(),
        auth: "bearer".into(),
        status: Some(status),
        error_code: code.map(str::to_string),
        error_message: Some(message.to_string()),
        error_detail: None,
        headers: Default::default(),
        elapsed_ms: 0,
        outcome: super::super::model::StepOutcome::Denied,
        failure: None,
        detail: String::new(),
    }
}

fn conversation<'a>(d: Dialect, steps: &'a [Step], cred: Option<&'a str>) -> Conversation<'a> {
    Conversation {
        dialect: d,
        steps,
        credential: cred,
        tried: cred.into_iter().collect(),
        rate: None,
        expired: &[],
        login_refused: None,
    }
}

fn forbidden() -> Verdict {
    Verdict::cause(Cause::AuthForbidden, "authenticated but may not pull")
}

#[test]
fn a_refusal_is_read_for_what_the_registry_can_tell() {
    let steps = [step(
        StepName::ManifestGet,
        401,
        Some("UNAUTHORIZED"),
        "authentication required",
    )];
    let hub = conclude(
        &conversation(Dialect::DockerHub, &steps, Some("s")),
        forbidden(),
    );
    assert_eq!(hub.cause, Some(Cause::AuthOrNotFound));
    assert!(
        hub.detail
            .contains("Docker Hub answers a missing repository exactly like a private one")
    );
    // The distribution registry's refusal after granted credentials stays what it was.
    let plain = conclude(
        &conversation(Dialect::Distribution, &steps, Some("s")),
        forbidden(),
    );
    assert_eq!(plain.cause, Some(Cause::AuthForbidden));
    assert_eq!(plain.detail, "authenticated but may not pull");
    // ACR says NAME_UNKNOWN for a missing repository: a refusal is a refusal.
    let acr = conclude(&conversation(Dialect::Acr, &steps, Some("s")), forbidden());
    assert_eq!(acr.cause, Some(Cause::AuthForbidden));
    assert!(acr.detail.contains("says NAME_UNKNOWN"));
}

#[test]
fn ecr_denied_is_a_bad_token_unless_it_names_an_iam_action() {
    let token = [step(
        StepName::ManifestGet,
        403,
        Some("DENIED"),
        "Your authorization token has expired. Reauthenticate and try again.",
    )];
    let v = conclude(&conversation(Dialect::Ecr, &token, Some("s")), forbidden());
    assert_eq!(v.cause, Some(Cause::AuthInvalidCredentials));
    let iam = [step(
        StepName::ManifestGet,
        403,
        Some("DENIED"),
        "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ecr:BatchGetImage",
    )];
    let v = conclude(&conversation(Dialect::Ecr, &iam, Some("s")), forbidden());
    assert_eq!(v.cause, Some(Cause::AuthForbidden));
}

#[test]
fn manifest_unknown_is_a_missing_tag_where_a_missing_repository_answers_otherwise() {
    let steps = [step(
        StepName::ManifestGet,
        404,
        Some("MANIFEST_UNKNOWN"),
        "manifest unknown",
    )];
    let vague = || Verdict::cause(Cause::NotFound, "manifest unknown; tags unreadable");
    let quay = conclude(&conversation(Dialect::Quay, &steps, None), vague());
    assert_eq!(quay.cause, Some(Cause::NotFoundTag));
    // distribution answers MANIFEST_UNKNOWN for a missing repository too.
    let plain = conclude(&conversation(Dialect::Distribution, &steps, None), vague());
    assert_eq!(plain.cause, Some(Cause::NotFound));
}

#[test]
fn invalid_token_after_a_granted_token_blames_the_token() {
    let mut refused = step(
        StepName::ManifestGet,
        401,
        Some("UNAUTHORIZED"),
        "authentication required",
    );
    refused.headers.insert(
        "www-authenticate".into(),
        r#"Bearer realm="https://auth.test/token",error="invalid_token""#.into(),
    );
    let steps = [step(StepName::Token, 200, None, ""), refused];
    let v = conclude(
        &conversation(Dialect::Distribution, &steps, None),
        Verdict::cause(Cause::AuthOrNotFound, "anonymous access refused"),
    );
    assert_eq!(v.cause, Some(Cause::AuthInvalidCredentials));
    assert!(v.detail.contains("invalid_token"));
}
