// SPDX-License-Identifier: MIT
/// The version smafd and smafctl report. VERSION at the top of the tree is
/// the one source; Tests/host/package-tests.sh checks this, the Makefile's
/// libsmaf and debian/changelog against it.
public enum SmafVersion {
    public static let string = "0.3.0"
}
