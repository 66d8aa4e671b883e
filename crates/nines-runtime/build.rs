//! Compiles the C++ shim over LibTorch's FBGEMM int8 kernels (`csrc/int8_linear.cpp`) against
//! the LibTorch that `torch-sys` links, with the same compiler flags.
//!
//! LibTorch is found as `torch-sys` found it: its build script exports the library folder
//! (`DEP_TCH_LIBTORCH_LIB`); the headers are `LIBTORCH_INCLUDE` when set, else beside it.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=csrc/int8_linear.cpp");
    for var in [
        "DEP_TCH_LIBTORCH_LIB",
        "LIBTORCH",
        "LIBTORCH_INCLUDE",
        "LIBTORCH_CXX11_ABI",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    let lib = match env::var_os("DEP_TCH_LIBTORCH_LIB") {
        Some(lib) => PathBuf::from(lib),
        None => match env::var_os("LIBTORCH") {
            Some(root) => PathBuf::from(root).join("lib"),
            None => panic!(
                "LibTorch not found: torch-sys exported no library folder and LIBTORCH is unset"
            ),
        },
    };
    let root = lib
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| lib.clone());
    let include = env::var_os("LIBTORCH_INCLUDE")
        .map(PathBuf::from)
        .unwrap_or(root)
        .join("include");
    let abi = env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".into());
    cc::Build::new()
        .cpp(true)
        .pic(true)
        .warnings(false)
        .include(&include)
        .include(include.join("torch/csrc/api/include"))
        .flag("-std=c++17")
        .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={abi}"))
        .flag("-DGLOG_USE_GLOG_EXPORT")
        .opt_level(3)
        // Lets the max-reductions of the activation loops vectorize; the rounding there
        // (adding and subtracting a constant) needs no reassociation, which stays off.
        .flag("-fno-math-errno")
        .flag("-fno-trapping-math")
        .flag("-ffinite-math-only")
        .flag("-fno-signed-zeros")
        .file("csrc/int8_linear.cpp")
        .compile("nines_int8");
}
