//! Standard output that ends quietly once its reader is gone: `kubectl govcloud audit |
//! head` is ordinary use, and `print!` would panic on the closed pipe.

use std::io::{ErrorKind, Write};

/// Writes `text` to standard output as is.
pub fn print(text: &str) {
    write(text.as_bytes());
}

/// Writes `text` and a newline to standard output.
pub fn println(text: &str) {
    let mut line = String::with_capacity(text.len() + 1);
    line.push_str(text);
    line.push('\n');
    write(line.as_bytes());
}

fn write(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(bytes).and_then(|()| out.flush()) {
        if e.kind() == ErrorKind::BrokenPipe {
            // The reader has what it wanted; what is left is not needed.
            std::process::exit(0);
        }
        eprintln!("error: cannot write the output: {e}");
        // EX_IOERR (sysexits.h).
        std::process::exit(74);
    }
}
