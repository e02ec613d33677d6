//! The `ocop-market` binary: see `ocop-market --help`.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    ocop_market::cli::main()
}
