//! The `ocop-market` binary: see `ocop-market --help`.

fn main() -> std::process::ExitCode {
    ocop_market::cli::main()
}
