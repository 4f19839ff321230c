//! harden-repository: bring cached repositories to the desired state of their profile.
