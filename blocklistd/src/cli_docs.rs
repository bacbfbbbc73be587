//! Shell completions and man pages, generated from a binary's clap
//! definition (`clap_complete`, `clap_mangen`) so they never drift from
//! `--help`. Packages run `blocklist completions SHELL`, `blocklist man DIR`
//! and the daemon's `--print-completions` / `--man DIR` at build time.

use std::io::Write;
use std::path::Path;

pub use clap_complete::Shell;

/// Writes `command`'s completion script for `shell` to `out`.
///
/// ```
/// let mut out = Vec::new();
/// let command = clap::Command::new("tool").subcommand(clap::Command::new("run"));
/// blocklistd::cli_docs::completions(command, blocklistd::cli_docs::Shell::Bash, &mut out);
/// assert!(String::from_utf8(out).unwrap().contains("run"));
/// ```
pub fn completions(mut command: clap::Command, shell: Shell, out: &mut dyn Write) {
    let name = command.get_name().to_owned();
    clap_complete::generate(shell, &mut command, name, out);
}

/// Writes `command`'s man pages into `dir` (created if missing):
/// `NAME.SECTION`, and `NAME-SUB.SECTION` for each subcommand. Returns the
/// files written.
pub fn man_pages(
    command: clap::Command,
    section: &str,
    dir: &Path,
) -> std::io::Result<Vec<String>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    let mut write = |command: clap::Command, title: String| -> std::io::Result<()> {
        let mut page = Vec::new();
        clap_mangen::Man::new(command)
            .title(title.clone())
            .section(section)
            .render(&mut page)?;
        let file = format!("{title}.{section}");
        std::fs::write(dir.join(&file), page)?;
        written.push(file);
        Ok(())
    };
    let name = command.get_name().to_owned();
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        // Pages name the command as typed: `blocklist publish`, not `publish`.
        let typed = sub
            .clone()
            .display_name(format!("{name}-{}", sub.get_name()))
            .bin_name(format!("{name} {}", sub.get_name()));
        write(typed, format!("{name}-{}", sub.get_name()))?;
    }
    write(command, name)?;
    Ok(written)
}
