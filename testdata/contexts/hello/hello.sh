#!/bin/sh
echo "hello from imgbuild"
