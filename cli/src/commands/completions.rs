//! `clout completions SHELL` and `clout man`.

use anyhow::Result;
use clap::CommandFactory;

pub fn completions(shell: clap_complete::Shell) {
    let mut cmd = crate::Cli::command();
    clap_complete::generate(shell, &mut cmd, "clout", &mut std::io::stdout());
}

pub fn man() -> Result<()> {
    let cmd = crate::Cli::command();
    clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?;
    Ok(())
}
