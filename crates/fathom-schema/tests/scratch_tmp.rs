#[test]
fn show() {
    let src = std::fs::read_to_string("/tmp/s.toml").unwrap();
    match fathom_schema::parse_schema("schema.toml", &src) {
        Ok(s) => println!("{s:#?}"),
        Err(e) => println!("{e}"),
    }
}
