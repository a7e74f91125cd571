"""The offline install artifact (`make dist`): release/build.py builds it, release/install.sh
installs it on a site laptop with no network. See docs/install.md."""
