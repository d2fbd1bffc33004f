//! One SOCKS5 `CONNECT` to the node's `socks5://` proxy, to tell "the proxy refuses" from "the
//! proxy cannot reach the registry" when a probe through it got no HTTP answer.
//!
//! Speaks RFC 1928 (<https://www.rfc-editor.org/rfc/rfc1928>) as Go's `net/http` does through
//! golang.org/x/net/internal/socks: it offers "no authentication", plus "username/password"
//! (RFC 1929, <https://www.rfc-editor.org/rfc/rfc1929>) when the proxy URL carries a user, and
//! sends the registry's host name, not an address it looked up. The reply code is the answer:
//! 0x03 to 0x06 say the proxy could not reach the registry (the network's fault), every other
//! refusal is the proxy's.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the SOCKS server said to one `CONNECT`.
pub(super) enum SocksAnswer {
    /// The tunnel opened (or the server did not answer in time: not ours to judge).
    Open,
    /// The proxy itself refuses: a login, a method, or a reply code it chose.
    Refused(String),
    /// The proxy tried and could not reach the target (reply 0x03–0x06).
    CannotReach(String),
    /// The connection broke during the exchange.
    Broken(String),
}

/// RFC 1928 §6's meaning of a reply code.
pub(super) fn reply_meaning(code: u8) -> &'static str {
    match code {
        0x01 => "general SOCKS server failure",
        0x02 => "connection not allowed by ruleset",
        0x03 => "network unreachable",
        0x04 => "host unreachable",
        0x05 => "connection refused",
        0x06 => "TTL expired",
        0x07 => "command not supported",
        0x08 => "address type not supported",
        _ => "an unassigned reply code",
    }
}

/// Asks the SOCKS server on `stream` for a tunnel to `authority` (`host:port`), with the
/// proxy URL's login.
pub(super) async fn ask(
    stream: &mut TcpStream,
    proxy: &url::Url,
    authority: &str,
    wait: Duration,
) -> SocksAnswer {
    let Some((host, port)) = authority
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.trim_matches(['[', ']']), p.parse::<u16>().ok()?)))
    else {
        return SocksAnswer::Open;
    };
    // Go sends the user and password percent-decoded; the scrubber learns them first.
    let login = (!proxy.username().is_empty()).then(|| {
        let user = percent(proxy.username());
        let pass = percent(proxy.password().unwrap_or(""));
        crate::scrub::remember_pair(&user, &pass);
        (user, pass)
    });
    match tokio::time::timeout(wait, exchange(stream, login, host, port)).await {
        Err(_) => SocksAnswer::Open,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => SocksAnswer::Broken(
            "the proxy closed the connection during the SOCKS5 handshake".into(),
        ),
        Ok(Err(e)) => SocksAnswer::Broken(e.to_string()),
        Ok(Ok(a)) => a,
    }
}

async fn exchange(
    stream: &mut TcpStream,
    login: Option<(String, String)>,
    host: &str,
    port: u16,
) -> std::io::Result<SocksAnswer> {
    // Go offers "no authentication" first, and "username/password" only with a user.
    let greeting: &[u8] = if login.is_some() {
        &[5, 2, 0, 2]
    } else {
        &[5, 1, 0]
    };
    stream.write_all(greeting).await?;
    let mut chosen = [0u8; 2];
    stream.read_exact(&mut chosen).await?;
    if chosen[0] != 5 {
        return Ok(SocksAnswer::Refused(
            "the proxy does not answer as a SOCKS5 server".into(),
        ));
    }
    match (chosen[1], &login) {
        (0, _) => {}
        (2, Some((user, pass))) => {
            let (u, p) = (user.as_bytes(), pass.as_bytes());
            let (Ok(ul), Ok(pl)) = (u8::try_from(u.len()), u8::try_from(p.len())) else {
                return Ok(SocksAnswer::Refused(
                    "the proxy URL's user or password is longer than SOCKS5 allows (255 bytes)"
                        .into(),
                ));
            };
            let mut msg = vec![1, ul];
            msg.extend_from_slice(u);
            msg.push(pl);
            msg.extend_from_slice(p);
            stream.write_all(&msg).await?;
            let mut status = [0u8; 2];
            stream.read_exact(&mut status).await?;
            if status[1] != 0 {
                return Ok(SocksAnswer::Refused(
                    "it rejects the username and password from the proxy URL (RFC 1929)".into(),
                ));
            }
        }
        (0xff, None) => {
            return Ok(SocksAnswer::Refused(
                "it accepts no connection without a login, and the proxy URL carries none".into(),
            ));
        }
        (0xff, Some(_)) => {
            return Ok(SocksAnswer::Refused(
                "it accepts neither no authentication nor username/password".into(),
            ));
        }
        (m, _) => {
            return Ok(SocksAnswer::Refused(format!(
                "it chose authentication method 0x{m:02x}, which was not offered"
            )));
        }
    }
    let mut req = vec![5, 1, 0];
    match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(a)) => {
            req.push(1);
            req.extend_from_slice(&a.octets());
        }
        Ok(std::net::IpAddr::V6(a)) => {
            req.push(4);
            req.extend_from_slice(&a.octets());
        }
        Err(_) => {
            let name = host.as_bytes();
            let Ok(n) = u8::try_from(name.len()) else {
                return Ok(SocksAnswer::Refused(
                    "the registry's name is longer than SOCKS5 allows".into(),
                ));
            };
            req.push(3);
            req.push(n);
            req.extend_from_slice(name);
        }
    }
    req.extend_from_slice(&port.to_be_bytes());
    stream.write_all(&req).await?;
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).await?;
    let code = head[1];
    let said = format!("SOCKS5 reply 0x{code:02x}, {}", reply_meaning(code));
    Ok(match code {
        0 => SocksAnswer::Open,
        0x03..=0x06 => SocksAnswer::CannotReach(said),
        _ => SocksAnswer::Refused(said),
    })
}

/// A URL's userinfo part, percent-decoded as Go's `url.UserPassword` gives it.
pub(super) fn percent(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_codes_read_as_rfc_1928_names_them() {
        assert_eq!(reply_meaning(2), "connection not allowed by ruleset");
        assert_eq!(reply_meaning(4), "host unreachable");
        assert_eq!(reply_meaning(0x42), "an unassigned reply code");
    }
}
