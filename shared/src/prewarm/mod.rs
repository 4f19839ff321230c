//! prewarm-images: pull images through the cache ahead of need.
