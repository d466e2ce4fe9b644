//! Keystore passwords: where they come from and the bytes EIP-2335 feeds the KDF.
//!
//! A password is read from a file (the way container secrets are mounted) or from an
//! environment variable, never from the command line, where `ps` would show it. Its text
//! is zeroed when dropped and its `Debug` form is redacted, so it cannot reach a log.

use crate::KeysError;
use std::fmt;
use std::path::PathBuf;
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

/// A password as the user typed it; see [`Password::kdf_bytes`] for what the KDF sees.
#[derive(Clone)]
pub struct Password(Zeroizing<String>);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl Password {
    pub fn new(text: impl Into<String>) -> Password {
        Password(Zeroizing::new(text.into()))
    }

    /// EIP-2335 password processing: NFKD normalisation, then the C0 (U+0000–U+001F),
    /// Delete (U+007F) and C1 (U+0080–U+009F) control codes stripped, then UTF-8. Space
    /// stays. So "𝔱𝔢𝔰𝔱" and "test" are the same password, and a stray newline is no part of it.
    pub fn kdf_bytes(&self) -> Zeroizing<Vec<u8>> {
        let text: Zeroizing<String> = Zeroizing::new(self.0.nfkd().filter(|c| !is_control(*c)).collect());
        Zeroizing::new(text.as_bytes().to_vec())
    }

    /// The number of characters left after processing (what a strength rule should count).
    pub fn processed_len(&self) -> usize {
        self.0.nfkd().filter(|c| !is_control(*c)).count()
    }
}

fn is_control(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}')
}

/// Where to read a password from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// A file holding the password; one trailing line ending (`\n` or `\r\n`) is not part of it.
    File(PathBuf),
    /// The name of an environment variable holding the password.
    Env(String),
}

impl PasswordSource {
    /// Reads the password. Errors name the file or the variable, never the content.
    pub fn read(&self) -> Result<Password, KeysError> {
        let text = match self {
            PasswordSource::File(path) => {
                // Like the p2p key and the submitter key: a secret others can read is refused.
                match claystack_fs_util::check_private(path) {
                    Ok(()) => {}
                    Err(claystack_fs_util::SecretFileError::OpenToOthers { mode, .. }) => {
                        return Err(KeysError::Password(format!(
                            "password file {path} can be read by other users (mode {mode:o}); run `chmod 600 {path}`",
                            path = path.display()
                        )))
                    }
                    // Missing or unreadable: the read below says so.
                    Err(claystack_fs_util::SecretFileError::Io(_)) => {}
                }
                let bytes = Zeroizing::new(std::fs::read(path).map_err(KeysError::io("read password file", path))?);
                let text = std::str::from_utf8(&bytes)
                    .map_err(|_| KeysError::Password(format!("password file {} is not UTF-8 text", path.display())))?;
                let text = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(text);
                if text.is_empty() {
                    return Err(KeysError::Password(format!(
                        "password file {} is empty; write the keystore password in it",
                        path.display()
                    )));
                }
                Zeroizing::new(text.to_string())
            }
            PasswordSource::Env(name) => match std::env::var(name) {
                Ok(v) if !v.is_empty() => Zeroizing::new(v),
                Ok(_) => {
                    return Err(KeysError::Password(format!(
                        "environment variable {name} is empty; set it to the keystore password"
                    )))
                }
                Err(std::env::VarError::NotPresent) => {
                    return Err(KeysError::Password(format!(
                        "environment variable {name} is not set; set it to the keystore password"
                    )))
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(KeysError::Password(format!("environment variable {name} is not valid UTF-8")))
                }
            },
        };
        Ok(Password(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eip2335_encoded_password() {
        // The EIP's test vectors: Fraktur letters decompose to ASCII, the key emoji stays.
        let p = Password::new("𝔱𝔢𝔰𝔱𝔭𝔞𝔰𝔰𝔴𝔬𝔯𝔡🔑");
        assert_eq!(hex::encode(&*p.kdf_bytes()), "7465737470617373776f7264f09f9491");
        assert_eq!(p.processed_len(), 13);
    }

    #[test]
    fn control_codes_are_stripped_and_space_kept() {
        let p = Password::new("a b\u{0}\t\n\u{1f}\u{7f}\u{80}\u{85}\u{9f}c\u{a0}");
        // U+00A0 (no-break space) is not a control code; NFKD turns it into a plain space.
        assert_eq!(&*p.kdf_bytes(), b"a bc ");
    }

    #[test]
    fn debug_is_redacted() {
        assert_eq!(format!("{:?}", Password::new("hunter2")), "Password(<redacted>)");
    }

    #[test]
    fn file_source_trims_one_line_ending() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        let write = |content: &str| claystack_fs_util::write_private(&f, content.as_bytes()).unwrap();
        for (content, want) in [("pw one\n", "pw one"), ("pw two\r\n", "pw two"), ("pw\n\n", "pw\n"), ("x", "x")] {
            write(content);
            assert_eq!(&*PasswordSource::File(f.clone()).read().unwrap().0, want);
        }
        write("\n");
        let err = PasswordSource::File(f.clone()).read().unwrap_err().to_string();
        assert!(err.contains("is empty"), "{err}");
        let err = PasswordSource::File(dir.path().join("missing")).read().unwrap_err().to_string();
        assert!(err.starts_with("cannot read password file"), "{err}");
    }

    #[test]
    fn a_password_file_others_can_read_is_refused_without_reading_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "hunter2\n").unwrap();
        for mode in [0o644, 0o640, 0o604, 0o620] {
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = PasswordSource::File(f.clone()).read().unwrap_err().to_string();
            assert!(err.contains("can be read by other users") && err.contains("chmod 600"), "{err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(&*PasswordSource::File(f).read().unwrap().0, "hunter2");
    }

    #[test]
    fn env_source_names_the_variable() {
        let name = "CLAYSTACK_KEYS_TEST_PASSWORD_UNSET_7f3a";
        let err = PasswordSource::Env(name.into()).read().unwrap_err().to_string();
        assert!(err.contains(name) && err.contains("not set"), "{err}");
    }
}
