//! TEMPORARY local stand-in for the helper's module (never committed).
#![allow(missing_docs, dead_code)]
use anyhow::Result;
use std::path::PathBuf;
#[derive(Clone, Debug)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}
#[derive(Clone, Default, Debug)]
pub struct AuthEnv {}
impl AuthEnv {
    pub fn from_process_env() -> AuthEnv {
        AuthEnv {}
    }
}
#[derive(Clone, Default, Debug)]
pub struct AuthOptions {
    pub creds: Option<Credentials>,
    pub auth_file: Option<PathBuf>,
    pub env: AuthEnv,
}
pub fn lookup(_host: &str, opts: &AuthOptions) -> Result<Option<Credentials>> {
    Ok(opts.creds.clone())
}
pub fn parse_creds(value: &str, env_password: Option<String>) -> Result<Credentials> {
    match value.split_once(':') {
        Some((u, p)) => Ok(Credentials {
            username: u.into(),
            password: p.into(),
        }),
        None => Ok(Credentials {
            username: value.into(),
            password: env_password.unwrap_or_default(),
        }),
    }
}
