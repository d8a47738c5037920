{
  "targets": [
    {
      "target_name": "d7y_native",
      "sources": ["d7y-native.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
