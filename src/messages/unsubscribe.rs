//! One-click unsubscribe links (RFC 8058): `{public_url}/unsubscribe/{token}`, where the token
//! names the user and the kind of message and is signed with the server's secret, so no table
//! of links is kept and no one can unsubscribe someone else.

use super::Template;
use crate::domain::token::derived_token;

/// The token for one user and one kind of message.
pub fn token(secret: &str, user_id: i64, template: Template) -> String {
    let payload = format!("{user_id}.{}", template.as_str());
    let signature = derived_token(secret, "unsubscribe", &payload);
    format!("{payload}.{}", &signature[..22])
}

/// The user and kind a token names, if its signature is ours.
pub fn verify(secret: &str, token: &str) -> Option<(i64, Template)> {
    let mut parts = token.splitn(3, '.');
    let user_id: i64 = parts.next()?.parse().ok()?;
    let template = Template::parse(parts.next()?)?;
    let signature = parts.next()?;
    let expected = self::token(secret, user_id, template);
    let expected_signature = expected.rsplit('.').next()?;
    use subtle::ConstantTimeEq;
    if template.can_unsubscribe()
        && bool::from(signature.as_bytes().ct_eq(expected_signature.as_bytes()))
    {
        Some((user_id, template))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_and_forgeries_do_not() {
        let t = token("secret", 42, Template::PayoutRecorded);
        assert_eq!(verify("secret", &t), Some((42, Template::PayoutRecorded)));
        assert_eq!(verify("other", &t), None);
        let forged = t.replacen("42.", "43.", 1);
        assert_eq!(verify("secret", &forged), None);
        assert_eq!(verify("secret", "garbage"), None);
    }
}
