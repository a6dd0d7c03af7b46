//! Glob-style pattern matching with Redis's rules, used by KEYS, SCAN MATCH,
//! CONFIG GET and the pub/sub pattern commands.
//!
//! `*` matches any run of bytes, `?` one byte, `[abc]`, `[^abc]` and `[a-z]`
//! a class, and `\x` the byte `x` literally. An unterminated class matches as
//! if it were closed at the end of the pattern, as Redis's matcher does.

/// Matches `string` against `pattern`; `nocase` folds ASCII case.
pub fn glob_match(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    // Recursion only happens at `*`, and is bounded by collapsing runs of
    // stars and by a step budget, so hostile patterns cannot blow the stack
    // or run for long.
    let mut budget: u64 = 1_000_000;
    match_from(pattern, string, nocase, &mut budget, 0)
}

fn eq(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

fn match_from(mut p: &[u8], mut s: &[u8], nocase: bool, budget: &mut u64, depth: usize) -> bool {
    while !p.is_empty() {
        if *budget == 0 || depth > 1000 {
            return false;
        }
        *budget -= 1;
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                for i in 0..=s.len() {
                    if match_from(&p[1..], &s[i..], nocase, budget, depth + 1) {
                        return true;
                    }
                    if *budget == 0 {
                        return false;
                    }
                }
                return false;
            }
            b'?' => {
                if s.is_empty() {
                    return false;
                }
                s = &s[1..];
            }
            b'[' => {
                if s.is_empty() {
                    return false;
                }
                let c = s[0];
                p = &p[1..];
                let not = p.first() == Some(&b'^');
                if not {
                    p = &p[1..];
                }
                let mut matched = false;
                loop {
                    if p.is_empty() {
                        // Unterminated class: Redis steps back so the
                        // pattern ends here.
                        break;
                    }
                    if p[0] == b'\\' && p.len() >= 2 {
                        p = &p[1..];
                        if eq(p[0], c, nocase) {
                            matched = true;
                        }
                    } else if p[0] == b']' {
                        break;
                    } else if p.len() >= 3 && p[1] == b'-' {
                        let (mut lo, mut hi) = (p[0], p[2]);
                        if lo > hi {
                            std::mem::swap(&mut lo, &mut hi);
                        }
                        let (lo, hi, cc) = if nocase {
                            (
                                lo.to_ascii_lowercase(),
                                hi.to_ascii_lowercase(),
                                c.to_ascii_lowercase(),
                            )
                        } else {
                            (lo, hi, c)
                        };
                        if cc >= lo && cc <= hi {
                            matched = true;
                        }
                        p = &p[2..];
                    } else if eq(p[0], c, nocase) {
                        matched = true;
                    }
                    p = &p[1..];
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                s = &s[1..];
                if p.is_empty() {
                    // The class ran to the end of the pattern.
                    return s.is_empty();
                }
            }
            b'\\' if p.len() >= 2 => {
                p = &p[1..];
                if s.is_empty() || !eq(p[0], s[0], nocase) {
                    return false;
                }
                s = &s[1..];
            }
            c => {
                if s.is_empty() || !eq(c, s[0], nocase) {
                    return false;
                }
                s = &s[1..];
            }
        }
        p = &p[1..];
    }
    s.is_empty()
}

#[cfg(test)]
mod tests {
    fn m(p: &[u8], s: &[u8]) -> bool {
        super::glob_match(p, s, false)
    }

    #[test]
    fn basics() {
        assert!(m(b"*", b""));
        assert!(m(b"h?llo", b"hello"));
        assert!(m(b"h*llo", b"heeeello"));
        assert!(m(b"h[ae]llo", b"hallo"));
        assert!(!m(b"h[^e]llo", b"hello"));
        assert!(m(b"h[a-b]llo", b"hbllo"));
        assert!(m(b"h[b-a]llo", b"hbllo"));
        assert!(m(b"h\\*llo", b"h*llo"));
        assert!(!m(b"h\\*llo", b"hello"));
        assert!(m(b"user:*:name", b"user:42:name"));
        assert!(!m(b"a*b", b"acbd"));
        assert!(m(b"[abc", b"a"));
    }

    #[test]
    fn nocase() {
        assert!(super::glob_match(b"MAX*", b"maxmemory", true));
    }

    #[test]
    fn hostile_pattern_terminates() {
        let p = b"a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
        let s = vec![b'a'; 200];
        assert!(!m(p, &s));
    }
}
