#!/bin/bash
# ad-hoc: a subset of the VM tier
h=Tests/vm
for t in "$@"; do
  case $t in
    storm|constraints|soak|pressure|privilege|fault|abuse|isolation|dmabuf|buffer) $h/$t-tests.sh .build/debug/smafd .build/c ;;
    device) $h/device-tests.sh .build/debug/smafd .build/c/smaf-abi-test ;;
    smafctl) $h/smafctl-tests.sh .build/debug/smafd .build/debug/smafctl .build/c ;;
  esac
done
