use super::*;

#[test]
fn unreadable_image_files_get_an_image_hint() {
    let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
    let err = image_io(denied, std::path::Path::new("img/blobs/sha256/ab"))
        .context("reading image 'img'");
    let (class, hint) = classify(&err);
    assert_eq!(class, ErrorKind::Failure);
    let hint = hint.unwrap();
    assert!(hint.contains("image"), "{hint}");
    assert!(!hint.contains(".dockerignore"), "{hint}");
    assert!(format!("{err:#}").contains("cannot read image file 'img/blobs/sha256/ab'"));
    let gone = std::io::Error::from(std::io::ErrorKind::NotFound);
    let err = image_io(gone, std::path::Path::new("img"));
    assert_eq!(classify(&err), (ErrorKind::Failure, None));
}
