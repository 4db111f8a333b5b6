#!/bin/sh
echo "install test: not written yet"; exit 1
