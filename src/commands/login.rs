//! `imgbuild login HOST` and `imgbuild logout HOST`: credentials stored and removed through
//! `registry::auth`; the user name and password from flags, stdin or a terminal prompt. No
//! password reaches any output or message.

use std::io::{self, BufRead, IsTerminal, Read};

use anyhow::{Context as _, Result};

use crate::cancel::Cancel;
use crate::cli::{LoginArgs, LogoutArgs};
use crate::error::UsageError;
use crate::registry::auth::{self, AuthEnv, AuthOptions, Credentials};
use crate::ui::Printer;

/// A line read from stdin is at most this long.
const MAX_LINE: u64 = 64 << 10;

pub fn run_login(args: &LoginArgs, printer: &Printer, cancel: &Cancel) -> Result<()> {
    let opts = options(args.authfile.clone());
    let host = auth::registry_host(&args.host);
    let terminal = io::stdin().is_terminal();
    if args.password.is_some() {
        printer.warn(
            "a password given with -p/--password lands in the shell's history and is visible \
             in the process list; use --password-stdin",
        );
    }
    let username = match &args.username {
        Some(u) => u.clone(),
        None if terminal && !args.password_stdin => {
            printer.prompt("Username: ").context("writing to stderr")?;
            read_line(cancel)?
        }
        None => {
            return Err(UsageError::new("login needs -u/--username")
                .with_hint(if args.password_stdin {
                    "pass -u USER with --password-stdin (stdin carries the password)"
                } else {
                    "pass -u USER, or run login in a terminal to be asked"
                })
                .into());
        }
    };
    if username.is_empty() {
        return Err(UsageError::new("the user name is empty").into());
    }
    let password = match (&args.password, args.password_stdin) {
        (Some(p), _) => p.0.clone(),
        (None, true) => read_line(cancel).context("reading the password from stdin")?,
        (None, false) if terminal => {
            printer.prompt("Password: ").context("writing to stderr")?;
            let _echo = NoEcho::new().context("turning off the terminal's echo")?;
            read_line(cancel)?
        }
        (None, false) => {
            return Err(UsageError::new("stdin is not a terminal, so the password cannot be asked for")
                .with_hint("pipe it in with --password-stdin: printf '%s\\n' \"$TOKEN\" | imgbuild login HOST -u USER --password-stdin")
                .into());
        }
    };
    if password.is_empty() {
        return Err(UsageError::new("the password is empty").into());
    }
    let stored = auth::login(&host, &Credentials::new(username, password), &opts)?;
    printer.status("Stored", &format!("credentials for {host} in {stored}"));
    Ok(())
}

pub fn run_logout(args: &LogoutArgs, printer: &Printer) -> Result<()> {
    let opts = options(args.authfile.clone());
    let host = auth::registry_host(&args.host);
    if auth::logout(&host, &opts)? {
        printer.status("Removed", &format!("credentials for {host}"));
    } else {
        printer.status(
            "Unchanged",
            &format!("no credentials were stored for {host}"),
        );
    }
    Ok(())
}

fn options(auth_file: Option<std::path::PathBuf>) -> AuthOptions {
    AuthOptions {
        creds: None,
        auth_file,
        env: AuthEnv::from_process_env(),
    }
}

/// One line of stdin without its line end, waiting for it in short polls so that a signal
/// (which sets `cancel`) ends the wait and the terminal's echo is restored on unwind.
fn read_line(cancel: &Cancel) -> Result<String> {
    loop {
        cancel.check()?;
        let mut fd = libc::pollfd {
            fd: 0,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, for the duration of the call.
        let n = unsafe { libc::poll(&mut fd, 1, 100) };
        if n > 0 {
            break;
        }
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e).context("waiting for stdin");
            }
        }
    }
    let mut line = Vec::new();
    io::stdin()
        .lock()
        .take(MAX_LINE + 1)
        .read_until(b'\n', &mut line)
        .context("reading stdin")?;
    if line.len() as u64 > MAX_LINE {
        return Err(UsageError::new("the line read from stdin is longer than 64 KiB").into());
    }
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
    String::from_utf8(line)
        .map_err(|_| UsageError::new("the line read from stdin is not UTF-8").into())
}

/// The terminal on stdin with echo off (a newline still echoed), restored when dropped.
struct NoEcho {
    saved: libc::termios,
}

impl NoEcho {
    fn new() -> io::Result<NoEcho> {
        // SAFETY: termios is plain data, filled by tcgetattr before it is read.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: fd 0 and a valid termios pointer.
        if unsafe { libc::tcgetattr(0, &mut t) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let saved = t;
        t.c_lflag &= !libc::ECHO;
        t.c_lflag |= libc::ECHONL;
        // SAFETY: as above.
        if unsafe { libc::tcsetattr(0, libc::TCSANOW, &t) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(NoEcho { saved })
    }
}

impl Drop for NoEcho {
    fn drop(&mut self) {
        // SAFETY: fd 0 and the settings read from it.
        unsafe {
            libc::tcsetattr(0, libc::TCSANOW, &self.saved);
        }
    }
}
