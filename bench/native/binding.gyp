{
  "targets": [
    {
      "target_name": "relay_native",
      "sources": ["relay-native.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
