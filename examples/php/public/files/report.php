<?php echo "this must never run"; ?>
