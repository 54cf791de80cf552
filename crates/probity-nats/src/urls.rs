//! NATS server URLs as people write them (`nats://user:pass@host:port`, comma-separated), and
//! as the Rust client takes them: servers apart, credentials as options.

/// The servers of a comma-separated URL list, one address each.
pub fn server_list(urls: &str) -> Vec<String> {
    urls.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Splits user and password out of NATS URLs (`nats://user:pass@host:port`, comma-separated):
/// the Rust client takes credentials as options, not from the URL.
pub fn split_credentials(urls: &str) -> (String, Option<(String, String)>) {
    let mut credentials = None;
    // A comma inside a password would split its URL in two: a piece with no scheme that has an
    // '@' belongs to the piece before it when that one has a scheme and no '@' yet.
    let mut pieces: Vec<String> = Vec::new();
    for piece in urls.split(',') {
        match pieces.last_mut() {
            Some(last)
                if !piece.contains("://")
                    && piece.contains('@')
                    && last.contains("://")
                    && !last.contains('@') =>
            {
                last.push(',');
                last.push_str(piece);
            }
            _ => pieces.push(piece.to_owned()),
        }
    }
    let cleaned: Vec<String> = pieces
        .iter()
        .map(|url| {
            let url = url.trim();
            let (scheme, rest) = url.split_once("://").unwrap_or(("nats", url));
            match rest.rsplit_once('@') {
                Some((userinfo, host)) => {
                    if credentials.is_none() {
                        let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
                        credentials = Some((percent_decoded(user), percent_decoded(pass)));
                    }
                    format!("{scheme}://{host}")
                }
                None => format!("{scheme}://{rest}"),
            }
        })
        .collect();
    (cleaned.join(","), credentials)
}

/// `%XX` escapes in a URL's user or password decoded (a password may hold `@` or `:` that
/// way); anything else kept as written.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_with_a_comma_or_escapes_stays_whole_and_out_of_the_servers() {
        let (servers, credentials) = split_credentials(
            "nats://clerk:pa,ss@127.0.0.1:4222,nats://clerk:pa,ss@127.0.0.1:4223",
        );
        assert_eq!(servers, "nats://127.0.0.1:4222,nats://127.0.0.1:4223");
        assert_eq!(credentials, Some(("clerk".into(), "pa,ss".into())));
        let (servers, credentials) = split_credentials("nats://clerk:p%40ss%2Cw@127.0.0.1:4222");
        assert_eq!(servers, "nats://127.0.0.1:4222");
        assert_eq!(credentials, Some(("clerk".into(), "p@ss,w".into())));
        assert!(!split_credentials("127.0.0.1:4222,127.0.0.1:4223")
            .0
            .contains('@'));
    }

    #[test]
    fn credentials_come_out_of_urls() {
        assert_eq!(
            split_credentials("nats://clerk:pw@127.0.0.1:4222,nats://clerk:pw@127.0.0.1:4223"),
            (
                "nats://127.0.0.1:4222,nats://127.0.0.1:4223".to_owned(),
                Some(("clerk".into(), "pw".into()))
            )
        );
        assert_eq!(
            split_credentials("nats://127.0.0.1:4222"),
            ("nats://127.0.0.1:4222".to_owned(), None)
        );
    }
}
