module memcached-operator/test/kind/images/pause

go 1.26.0
