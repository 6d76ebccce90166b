package auth

// CacheLen is the number of tokens a caching verifier holds, -1 for a
// verifier without a cache.
func CacheLen(v Verifier) int {
	switch c := v.(type) {
	case *cachingVerifier:
		return c.cacheLen()
	case readyCachingVerifier:
		return c.cacheLen()
	}
	return -1
}
