pub mod decode;
pub mod inspect;
pub mod source;
