check {spec} -D M=3
