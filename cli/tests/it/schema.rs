//! `directory schema` prints the schema `serve` answers.

#[test]
fn directory_schema_prints_the_served_schema() {
    let out =
        std::process::Command::new(env!("CARGO_BIN_EXE_directory")).arg("schema").output().expect("run directory");
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), api::graphql::sdl());
}
