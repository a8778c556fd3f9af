"""Studies behind some figures and claims: one-layer fits (:mod:`.one_layer_fits`) and the
accuracy of the planar inverse over many parameter draws (:mod:`.planar_inverse`)."""
