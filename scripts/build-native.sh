#!/usr/bin/env bash
# Builds d7y's native addon (native/), with which peers send pieces by sendfile(2). It is optional:
# where it does not build (no g++, make or python3), peers send every piece through JavaScript.
cd "$(dirname "$0")/.."
if node-gyp rebuild --directory native > native/build.log 2>&1; then
  echo "d7y: native addon built (peers send pieces by sendfile)"
else
  echo "d7y: the native addon did not build (needs g++, make and python3; see native/build.log): peers send pieces through JavaScript"
fi
