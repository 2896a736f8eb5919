fn main() {
    apikley_codegen::build_script();
}
