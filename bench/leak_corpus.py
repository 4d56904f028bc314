"""A labelled corpus of teacher patch texts: the ones that give the answer away, and the ones that only
point at evidence.

Written by hand, before and apart from the guard it measures (``remot_train.teacher.leak``): no label
here comes from the guard. Each case is a patch ``text`` with the question it is written for, a
``label`` (``leak`` or ``safe``) and a ``style`` (how it leaks, or what kind of safe guidance it is).
The question context is a spec string:

* ``tf:<value>[:<answer>]`` a true/false question about the shown pair, whose value is ``<value>``
  (answer ``true`` unless given);
* ``cat:<value>`` a categorical fill-in-the-blank about a pair whose value is ``<value>``;
* ``mc3:<value>:<letter>`` / ``mc4:<value>:<letter>`` a multiple choice over images 2 and 3 (three
  images) or pairs A and B (four images); the claim is ``<value>``, the answer ``<letter>``;
* ``cmp3:<letter>`` / ``cmp4:<letter>`` a comparative ("in which pair was the quantity larger?"),
  answer ``<letter>``;
* ``num:<answer>`` a numeric fill-in ("about ___ degrees"), answer e.g. ``24 deg``.

For leaks about a direction or a state, the text describes the asked pair truthfully, so the value it
implies is the pair's value (``implies``); the bench reports whether the guard read the same value
(the frame of reference, inverted for scene motion).

Three splits: ``dev`` (the corpus the guard was developed against), ``heldout`` (written before the guard
code, in another voice, a thinking model's long-winded and hedged style, and not run while the guard was
tuned), ``probe`` (written after both had been scored, to look for blind spots: the guard caught 10 of
its 21 leaks and dropped 2 of its 20 safe texts on first contact, and was then adjusted to it) and
``probe2`` (written after that adjustment, scored once, as it is). One
person wrote the corpus and the guard, in that order: the corpus is independent of the code, not of the
author's idea of what a leak is.

    from bench.leak_corpus import cases
    rows = cases("dev")   # [{"text", "label", "style", "attribute", "question_type", "sample", "implies"}]
"""

from __future__ import annotations

# (attribute, spec, style, text)
DEV_LEAKS: list[tuple[str, str, str, str]] = [
    # --- yaw (camera frame: left/right; the scene moves the other way) --------------------------------
    ("yaw", "tf:left", "inverse_frame", "Between image 1 and image 2 the whole scene slides toward the right edge of the image."),
    ("yaw", "tf:right", "inverse_frame", "Everything in view drifts leftward from image 1 to image 2."),
    ("yaw", "tf:left", "image_space", "The doorway that sits near the centre of image 1 ends up close to the right border in image 2."),
    ("yaw", "tf:right", "enter_exit", "New parts of the room come into view along the right edge of image 2."),
    ("yaw", "tf:left", "enter_exit", "The bookshelf at the right edge of image 1 has slipped out of the frame on the right in image 2."),
    ("yaw", "tf:right:false", "camera_frame", "The camera swung toward its right-hand side between the two images."),
    ("yaw", "tf:left", "camera_frame", "The viewer panned to the left."),
    ("yaw", "cat:right", "inverse_frame", "Track the window: it travels to the left across the frame."),
    ("yaw", "mc3:left:B", "inverse_frame", "Compared with image 1, the content of image 3 is displaced to the right."),
    ("yaw", "tf:right", "rule_applied", "A right turn pushes the scene left, and that is exactly what happens to the lamp here."),
    ("yaw", "tf:left", "leading_question", "Doesn't the tree shift toward the right side of the picture?"),
    ("yaw", "tf:right", "image_space", "The chair is further to the left in image 2 than in image 1."),
    ("yaw", "tf:left:false", "inverse_frame", "The image content scrolls rightward."),
    ("yaw", "tf:right", "image_space", "The lamp moves from the middle of image 1 to the left third of image 2."),
    ("yaw", "tf:left", "inverse_frame", "Objects glide across toward the right margin."),
    ("yaw", "tf:right", "camera_frame", "We look more to the right in the second image."),
    ("yaw", "cat:left", "camera_frame", "The robot's head turned to its left before the second picture was taken."),
    ("yaw", "mc4:right:A", "inverse_frame", "In pair A, the wall texture shifts to the left by a clear margin."),
    ("yaw", "tf:left", "inverse_frame", "The picture on the wall moves right, so think about what that means for the camera."),
    ("yaw", "tf:right", "image_space", "In image 2 the fridge has moved over to the left-hand side of the frame."),
    ("yaw", "tf:left", "enter_exit", "The window on the left of image 1 is now much closer to the centre, and a new cabinet has appeared at the left edge."),
    # --- pitch (camera tilts up: the scene moves down) -------------------------------------------------
    ("pitch", "tf:up", "inverse_frame", "The horizon sinks toward the bottom of the image."),
    ("pitch", "tf:down", "inverse_frame", "The skyline climbs toward the top edge in image 2."),
    ("pitch", "tf:up", "enter_exit", "More of the ceiling comes into view at the top of image 2."),
    ("pitch", "tf:down", "enter_exit", "The floor fills more of the lower part of the frame in image 2."),
    ("pitch", "tf:up", "image_space", "The light fixture sits lower in image 2 than in image 1."),
    ("pitch", "tf:down", "image_space", "The table edge is higher in the frame in image 2."),
    ("pitch", "tf:up:false", "camera_frame", "The camera tipped its nose upward."),
    ("pitch", "tf:down", "camera_frame", "The view dipped toward the ground."),
    ("pitch", "cat:up", "inverse_frame", "Every structure drops downward from image 1 to image 2."),
    ("pitch", "mc4:down:A", "inverse_frame", "In pair A the building rises toward the top border."),
    ("pitch", "tf:up", "rule_applied", "Tilting up makes things drop in the picture, which is what the door frame does here."),
    ("pitch", "tf:down", "enter_exit", "The top of the doorway disappears past the upper edge in image 2."),
    ("pitch", "tf:up", "leading_question", "Notice how the horizon line goes down in image 2?"),
    ("pitch", "tf:down", "inverse_frame", "The scene drifts upward."),
    ("pitch", "tf:up", "inverse_frame", "The picture frames on the wall slide down the image."),
    ("pitch", "mc3:up:A", "image_space", "Image 2's horizon is nearer the bottom edge than image 1's."),
    ("pitch", "tf:down", "camera_frame", "The camera looked down toward the floor."),
    # --- roll (camera clockwise: the image turns counterclockwise) --------------------------------------
    ("roll", "tf:clockwise", "inverse_frame", "The whole image turns counterclockwise about its centre between image 1 and image 2."),
    ("roll", "tf:counterclockwise", "inverse_frame", "The picture rotates clockwise."),
    ("roll", "tf:clockwise", "image_space", "In image 2 the horizon rises toward the right."),
    ("roll", "tf:counterclockwise", "image_space", "The horizon slopes down to the right in image 2."),
    ("roll", "tf:clockwise:false", "camera_frame", "The camera rolled in the clockwise sense."),
    ("roll", "tf:counterclockwise", "camera_frame", "The camera spun anti-clockwise about its viewing axis."),
    ("roll", "cat:clockwise", "image_space", "The left end of the table edge drops in image 2."),
    ("roll", "tf:counterclockwise", "image_space", "In image 2 the vertical door frame leans to the right at its top."),
    ("roll", "tf:counterclockwise", "inverse_frame", "The walls twist clockwise in the second frame."),
    ("roll", "mc4:clockwise:B", "inverse_frame", "Pair B's content swivels anticlockwise."),
    # --- translation_forward ----------------------------------------------------------------------------
    ("translation_forward", "tf:forward", "inverse_frame", "Everything expands outward from the centre of the image."),
    ("translation_forward", "tf:backward", "inverse_frame", "The doorway shrinks and the room seems to recede."),
    ("translation_forward", "tf:forward", "image_space", "The painting fills far more of the frame in image 2."),
    ("translation_forward", "tf:backward", "enter_exit", "More of the room appears around the borders of image 2."),
    ("translation_forward", "tf:forward:false", "camera_frame", "The camera advanced toward the far wall."),
    ("translation_forward", "tf:backward", "camera_frame", "The camera backed away from the desk."),
    ("translation_forward", "cat:forward", "inverse_frame", "The chair looms larger in the second image."),
    ("translation_forward", "tf:backward", "image_space", "The shelves look smaller and farther away in image 2."),
    ("translation_forward", "tf:forward", "enter_exit", "The objects near the edges of image 1 are pushed out of the frame in image 2."),
    ("translation_forward", "mc4:backward:B", "inverse_frame", "Pair B's scene contracts toward the image centre."),
    ("translation_forward", "tf:forward", "camera_frame", "We get closer to the door."),
    ("translation_forward", "tf:forward", "image_space", "The table appears bigger in image 2."),
    # --- translation_lateral ----------------------------------------------------------------------------
    ("translation_lateral", "tf:right", "inverse_frame", "Near objects slide leftward faster than the far wall."),
    ("translation_lateral", "tf:left", "inverse_frame", "The foreground shifts toward the right side of the frame."),
    ("translation_lateral", "tf:right:false", "camera_frame", "The camera stepped sideways to its right."),
    ("translation_lateral", "tf:left", "camera_frame", "The camera dollied toward its left."),
    ("translation_lateral", "tf:right", "image_space", "The pillar ends up nearer the left border in image 2."),
    ("translation_lateral", "cat:left", "enter_exit", "A new doorway appears on the left edge of image 2."),
    ("translation_lateral", "tf:right", "rule_applied", "Stepping sideways moves near things the opposite way; here the chair moves to the left."),
    ("translation_lateral", "tf:left", "inverse_frame", "The scene translates rightward."),
    # --- translation_vertical ---------------------------------------------------------------------------
    ("translation_vertical", "tf:up", "inverse_frame", "The scene moves downward in image 2."),
    ("translation_vertical", "tf:down", "inverse_frame", "The floor tiles rise in the frame."),
    ("translation_vertical", "tf:up", "camera_frame", "The camera was raised between the two images."),
    ("translation_vertical", "tf:down:false", "camera_frame", "The camera dropped lower."),
    ("translation_vertical", "tf:up", "image_space", "The table top sits nearer the bottom edge in image 2."),
    ("translation_vertical", "cat:down", "inverse_frame", "Content climbs toward the top of the picture."),
    # --- camera_motion ----------------------------------------------------------------------------------
    ("camera_motion", "tf:stationary", "state_paraphrase", "The two images are identical; nothing in them shifts."),
    ("camera_motion", "tf:moving", "state_paraphrase", "The scene is displaced between the two images."),
    ("camera_motion", "tf:stationary:false", "state_paraphrase", "Every edge stays exactly where it was."),
    ("camera_motion", "tf:moving", "state_paraphrase", "The view changes noticeably from image 1 to image 2."),
    ("camera_motion", "cat:stationary", "state_paraphrase", "Nothing moved at all."),
    ("camera_motion", "tf:moving", "image_space", "The window is in a different place in image 2."),
    ("camera_motion", "tf:stationary", "state_paraphrase", "There is no change between image 1 and image 2."),
    # --- ee_lateral (image frame) -----------------------------------------------------------------------
    ("ee_lateral", "tf:right", "image_space", "The gripper travels toward the right side of the image."),
    ("ee_lateral", "tf:left", "image_space", "The gripper ends up closer to the left border of image 2."),
    ("ee_lateral", "tf:right:false", "image_space", "Relative to the table, the end effector shifts rightward."),
    ("ee_lateral", "cat:left", "image_space", "The gripper drifts to the left of where it started."),
    ("ee_lateral", "mc4:left:A", "image_space", "In pair A the gripper heads leftward."),
    ("ee_lateral", "tf:right", "image_space", "The arm's tip is further right in image 2."),
    # --- ee_vertical ------------------------------------------------------------------------------------
    ("ee_vertical", "tf:up", "state_paraphrase", "The gripper rises away from the table."),
    ("ee_vertical", "tf:down", "state_paraphrase", "The gripper descends toward the tabletop."),
    ("ee_vertical", "tf:up", "image_space", "The gap between the gripper and the table widens in image 2."),
    ("ee_vertical", "tf:down:false", "image_space", "The gripper is closer to the table in image 2."),
    ("ee_vertical", "cat:up", "state_paraphrase", "The end effector lifts higher."),
    ("ee_vertical", "tf:down", "state_paraphrase", "The arm lowers the gripper."),
    # --- ee_depth ---------------------------------------------------------------------------------------
    ("ee_depth", "tf:toward", "state_paraphrase", "The gripper grows larger in the image as it comes nearer to the camera."),
    ("ee_depth", "tf:away", "state_paraphrase", "The gripper looks smaller in image 2."),
    ("ee_depth", "tf:toward:false", "image_space", "The gripper covers more of the frame in image 2."),
    ("ee_depth", "cat:away", "state_paraphrase", "The end effector recedes from the viewer."),
    ("ee_depth", "tf:toward", "state_paraphrase", "The gripper approaches the lens."),
    # --- gripper ----------------------------------------------------------------------------------------
    ("gripper", "tf:opening", "state_paraphrase", "The gap between the fingers grows."),
    ("gripper", "tf:closing", "state_paraphrase", "The fingers come together."),
    ("gripper", "tf:opening:false", "state_paraphrase", "The jaws spread apart between image 1 and image 2."),
    ("gripper", "tf:closing", "state_paraphrase", "The space between the fingertips shrinks."),
    ("gripper", "tf:holding", "state_paraphrase", "The fingers stay clamped around the block in both images."),
    ("gripper", "cat:opening", "state_paraphrase", "The fingers separate and let go."),
    ("gripper", "tf:closing", "state_paraphrase", "The jaws squeeze shut."),
    ("gripper", "tf:holding", "state_paraphrase", "The block stays gripped the whole time; the fingers do not move."),
    ("gripper", "tf:opening", "state_paraphrase", "The distance between the two fingers increases."),
    ("gripper", "mc4:closing:B", "state_paraphrase", "In pair B the fingers draw closer together."),
    ("gripper", "tf:opening", "leading_question", "Don't the fingers look wider apart in image 2?"),
    ("gripper", "cat:holding", "state_paraphrase", "The gripper keeps its hold on the cube."),
    ("gripper", "tf:closing:false", "state_paraphrase", "The fingers tighten on the object."),
    ("gripper", "tf:opening", "state_paraphrase", "The gripper releases: its fingers part."),
    # --- phase ------------------------------------------------------------------------------------------
    ("phase", "tf:approach", "state_paraphrase", "The gripper is still moving toward the block and has not touched it yet."),
    ("phase", "tf:grasp", "state_paraphrase", "The fingers close around the block."),
    ("phase", "tf:lift", "state_paraphrase", "The block leaves the table and rises with the gripper."),
    ("phase", "tf:place:false", "state_paraphrase", "The block is set down on the table."),
    ("phase", "cat:approach", "state_paraphrase", "The fingers are still empty and heading for the cube."),
    ("phase", "tf:lift", "state_paraphrase", "The cube is raised off the surface."),
    ("phase", "tf:place", "state_paraphrase", "The gripper lowers the block onto the table and releases it."),
    ("phase", "tf:grasp", "state_paraphrase", "The gripper grabs the block."),
    # --- wrist_rotation ---------------------------------------------------------------------------------
    ("wrist_rotation", "tf:clockwise", "image_space", "The fingers turn clockwise in the image."),
    ("wrist_rotation", "tf:counterclockwise", "image_space", "The wrist twists anticlockwise."),
    ("wrist_rotation", "cat:clockwise", "image_space", "The fingers' long edges swing so that their top ends move toward the right."),
    ("wrist_rotation", "tf:counterclockwise:false", "image_space", "The gripper rotates counter clockwise."),
    # --- object_lateral / object_depth ------------------------------------------------------------------
    ("object_lateral", "tf:right", "image_space", "The red cube slides toward the right edge of the image."),
    ("object_lateral", "tf:left", "image_space", "The blue ball rolls leftward across the floor."),
    ("object_lateral", "tf:right:false", "image_space", "The green box is nearer the right border in image 2."),
    ("object_lateral", "cat:left", "image_space", "The yellow object drifts to the left of its starting spot."),
    ("object_depth", "tf:toward", "state_paraphrase", "The red object grows bigger in the image."),
    ("object_depth", "tf:away", "state_paraphrase", "The blue cube gets smaller as it recedes."),
    ("object_depth", "tf:toward:false", "state_paraphrase", "The green ball comes closer to the camera."),
    ("object_depth", "cat:away", "state_paraphrase", "The yellow object shrinks."),
    # --- comparatives (which pair moved more) -----------------------------------------------------------
    ("yaw", "cmp4:B", "ratio", "Pair B's shift is about three times pair A's."),
    ("translation_lateral", "cmp4:A", "ratio", "The doorway in pair A moves twice the width of the one in pair B."),
    ("yaw", "cmp4:A", "relative", "Pair A turns noticeably more than pair B."),
    ("pitch", "cmp4:A", "relative", "In pair B the scene barely moves."),
    ("roll", "cmp3:B", "relative", "The turn in the second pair dwarfs the first."),
    ("yaw", "cmp4:A", "relative", "Pair A shows a much bigger rotation."),
    ("ee_lateral", "cmp4:A", "ratio", "The shift in pair B is only a fraction of the shift in pair A."),
    ("pitch", "cmp4:B", "ratio", "Pair A's horizon moves roughly half as far as pair B's."),
    ("translation_forward", "cmp4:A", "relative", "Between images 3 and 4 the motion is tiny."),
    ("wrist_rotation", "cmp4:B", "relative", "Pair B's rotation is the larger one."),
    ("object_lateral", "cmp4:A", "relative", "The object in pair A travels a lot farther."),
    ("yaw", "cmp4:A", "relative", "Pair B hardly changes at all, while pair A changes a lot."),
    ("pitch", "cmp4:A", "relative", "Pair A: large shift. Pair B: small shift."),
    ("ee_vertical", "cmp4:A", "relative", "The first pair's displacement exceeds the second's."),
    ("ee_depth", "cmp4:A", "ratio", "Pair A's gripper moves 2x as far as pair B's."),
    ("yaw", "cmp3:B", "relative", "There is more rotation from image 1 to image 3 than from image 1 to image 2."),
    ("translation_lateral", "cmp4:B", "relative", "Pair B moves the most."),
    ("roll", "cmp4:B", "relative", "Pair A's change is subtle; pair B's is dramatic."),
    ("gripper", "cmp4:A", "relative", "Pair A's fingers open much wider than pair B's."),
    ("yaw", "cmp4:B", "ratio", "Pair B's turn is roughly double."),
    ("translation_vertical", "cmp4:B", "relative", "Pair A's translation is the smaller of the two."),
    ("pitch", "cmp4:B", "relative", "Pair B clearly has the stronger tilt."),
    ("object_depth", "cmp4:B", "ratio", "The distance covered in pair A is a third of pair B's."),
    ("yaw", "cmp4:B", "number", "Pair A's shift is about 40 px, pair B's about 120 px."),
    ("yaw", "cmp3:B", "number", "The camera in pair B turned by roughly 30 degrees versus 10 in pair A."),
    ("ee_lateral", "cmp4:A", "relative", "The gripper in pair A covers a far greater distance."),
    ("yaw", "cmp4:B", "relative", "Pair B's doorway sweeps across a lot more of the frame."),
    # --- numeric fill-in --------------------------------------------------------------------------------
    ("yaw", "num:24 deg", "number", "The camera turned by roughly two dozen degrees."),
    ("yaw", "num:24 deg", "number", "The rotation is about 25°."),
    ("translation_lateral", "num:0.35 m", "number", "The camera slid about 35 cm sideways."),
    ("translation_lateral", "num:0.35 m", "number", "It moved roughly a third of a metre."),
    ("ee_lateral", "num:4.5 cm", "number", "The gripper travelled about 45 mm."),
    ("yaw", "num:12 deg", "number", "The turn is small, around a dozen degrees."),
    ("yaw", "num:90 deg", "number", "The camera made a quarter turn."),
    ("yaw", "num:30 deg", "number", "The shift is half the field of view, which is 60 degrees wide."),
    ("pitch", "num:8 deg", "number", "The angle is somewhere between 7 and 9."),
    ("translation_forward", "num:1.2 m", "number", "The camera moved just over a metre."),
    ("roll", "num:45 deg", "number", "It is about forty-five."),
    ("gripper", "num:3.0 cm", "number", "The fingers' opening changed by about three centimetres."),
    ("yaw", "num:15 deg", "number", "The doorway shifts by about a sixth of the image width, and the view spans 90 degrees."),
    ("translation_forward", "num:0.5 m", "number", "Half a metre is a good estimate."),
    ("pitch", "num:20 deg", "number", "Think of it as roughly 20."),
    ("roll", "num:6 deg", "number", "Only a few degrees of rotation."),
    ("ee_vertical", "num:6.0 cm", "number", "The gripper rose by something like six centimetres."),
    # --- direct answers and verdicts --------------------------------------------------------------------
    ("yaw", "mc3:left:B", "direct_answer", "The answer is B."),
    ("pitch", "mc4:up:A", "direct_answer", "Choose option A."),
    ("gripper", "mc4:opening:B", "direct_answer", "(B) is the one to pick."),
    ("roll", "mc3:clockwise:B", "direct_answer", "Go with the second option."),
    ("yaw", "mc3:right:B", "option_single", "It's image 3."),
    ("ee_lateral", "mc4:left:A", "option_single", "Pair A is where that happens."),
    ("translation_forward", "mc4:forward:A", "option_single", "The correct choice is the first pair."),
    ("yaw", "tf:left:true", "direct_answer", "True."),
    ("pitch", "tf:up:false", "direct_answer", "This is false."),
    ("gripper", "tf:opening:true", "verdict", "The claim holds."),
    ("phase", "tf:grasp:false", "verdict", "The statement does not match the images."),
    ("yaw", "tf:right:true", "verdict", "You were wrong to say false."),
    ("roll", "tf:clockwise:false", "verdict", "Your answer has it backwards."),
    ("ee_depth", "tf:away:true", "verdict", "The statement is accurate."),
    ("yaw", "cat:left", "direct_answer", "Write 'left' in the blank."),
    ("ee_depth", "cat:away", "direct_answer", "The missing words are away from."),
    ("gripper", "cat:closing", "direct_answer", "Fill the blank with closing."),
    ("object_lateral", "tf:left:true", "verdict", "The claim is correct, as the cube's shift shows."),
    ("pitch", "mc3:down:A", "option_single", "Only image 2 shows that."),
    ("translation_vertical", "tf:up:false", "verdict", "The statement is wrong."),
]

DEV_SAFE: list[tuple[str, str, str, str]] = [
    # --- yaw ----------------------------------------------------------------------------------------
    ("yaw", "tf:left", "pointing", "Compare the bottom-left region of image 1 and image 2."),
    ("yaw", "tf:right", "pointing", "Look at the doorway's position in both images."),
    ("yaw", "tf:left", "location_words", "Track the lamp on the right side of image 1 into image 2."),
    ("yaw", "tf:right", "neutral_disjunction", "Decide whether the scene shifts left or right between image 1 and image 2, then relate that to the camera."),
    ("yaw", "tf:left", "general_rule", "A turn of the camera slides the whole scene sideways, opposite to the turn."),
    ("yaw", "tf:right", "location_words", "Focus on the textured wall in the upper-left corner of both images."),
    ("yaw", "tf:left", "cue_naming", "Judge the horizontal position of the bookshelf inside the boxed region."),
    ("yaw", "tf:right", "temporal", "Read the pair from image 1 to image 2, in the order shown."),
    ("yaw", "tf:left", "general_rule", "Remember that scene motion and camera motion go in opposite directions."),
    ("yaw", "tf:right", "general_rule", "If the camera turns to its left, the content slides toward the right of the image."),
    ("yaw", "tf:left", "location_words", "Use the window at the left edge of image 1 as a landmark and find it in image 2."),
    ("yaw", "tf:right", "pointing", "Ignore the person walking; look at the static furniture."),
    ("yaw", "mc3:left:B", "all_options", "Compare images 2 and 3 with image 1, paying attention to the picture frame on the wall."),
    ("yaw", "tf:left", "location_words", "The boxed region on the right half of each image contains a sharp corner; compare its horizontal position."),
    ("yaw", "tf:right", "cue_naming", "Check which way the far wall's corner moves across the frame."),
    ("yaw", "tf:left", "temporal", "Read image 1 first and image 2 second; the motion goes from the first to the second."),
    ("yaw", "tf:right", "cue_naming", "Horizontal position is the cue here; vertical drift does not matter for this question."),
    ("yaw", "tf:left", "location_words", "Compare the left half of image 1 with the left half of image 2."),
    ("yaw", "tf:right", "pointing", "Look at where the doorway sits relative to the image centre in each image."),
    ("yaw", "tf:left", "general_rule", "The scene's horizontal shift is opposite in sign to the camera's turn."),
    ("yaw", "cat:right", "neutral_disjunction", "The blank takes left or right; decide from the shift of the shelf."),
    ("yaw", "mc4:left:A", "all_options", "Pair A and pair B each show a change of view; compare the radiator near the right edge in both."),
    ("yaw", "tf:left", "location_words", "There is a tall plant at the far right of image 1; see where it is in image 2."),
    ("yaw", "tf:right", "pointing", "Find a feature that is visible in both images, such as the corner of the rug, and compare its horizontal placement."),
    ("yaw", "tf:left", "general_rule", "When a camera pans, everything in the image moves together, the other way."),
    ("yaw", "mc3:right:A", "all_options", "Look at image 2 and image 3 in turn and compare each with image 1, using the shelf near the top right."),
    # --- pitch --------------------------------------------------------------------------------------
    ("pitch", "tf:up", "cue_naming", "Compare the height of the horizon in image 1 and image 2."),
    ("pitch", "tf:down", "location_words", "Look at the top edge of both images, where the ceiling lamp is."),
    ("pitch", "tf:up", "neutral_disjunction", "Decide whether the horizon moves up or down in the image."),
    ("pitch", "tf:down", "general_rule", "Tilting the camera slides the scene vertically, opposite to the tilt."),
    ("pitch", "tf:up", "location_words", "Use the table edge in the lower-right corner as a landmark."),
    ("pitch", "tf:down", "cue_naming", "Check the vertical position of the window sill in the boxed region."),
    ("pitch", "tf:up", "general_rule", "When the camera tilts upward, the scene moves toward the bottom of the frame."),
    ("pitch", "tf:down", "location_words", "Pay attention to the bottom third of each image."),
    ("pitch", "tf:up", "cue_naming", "Compare the vertical position of the door handle across the pair."),
    ("pitch", "tf:down", "neutral_disjunction", "Watch whether more floor or more ceiling is visible in image 2."),
    ("pitch", "cat:up", "neutral_disjunction", "Up or down: use the height of the skyline to choose."),
    ("pitch", "mc4:up:B", "all_options", "In both pair A and pair B, compare the height of the horizon from the first image to the second."),
    ("pitch", "tf:down", "location_words", "The lower half of each image shows the floor; the upper half shows a window. Compare both halves."),
    ("pitch", "tf:up", "pointing", "Look at the light switch on the wall in image 1 and in image 2."),
    # --- roll ---------------------------------------------------------------------------------------
    ("roll", "tf:clockwise", "cue_naming", "Compare the slant of the horizon in image 1 and image 2."),
    ("roll", "tf:counterclockwise", "cue_naming", "Look at the straight wall edges and measure their angle to the image border."),
    ("roll", "tf:clockwise", "general_rule", "Rolling the camera rotates the image about its centre in the opposite sense."),
    ("roll", "tf:counterclockwise", "neutral_disjunction", "Decide whether the image content turned clockwise or counterclockwise."),
    ("roll", "tf:clockwise", "location_words", "Use the door frame on the left as a reference for verticals."),
    ("roll", "tf:counterclockwise", "cue_naming", "Check the angle of the table's front edge in both frames."),
    ("roll", "cat:clockwise", "cue_naming", "Compare how the horizon is tilted in each image."),
    ("roll", "tf:clockwise", "location_words", "The window in the upper right has straight edges; measure their slant in both images."),
    # --- translation_forward ------------------------------------------------------------------------
    ("translation_forward", "tf:forward", "cue_naming", "Compare the apparent size of the painting in image 1 and image 2."),
    ("translation_forward", "tf:backward", "cue_naming", "Look at how much of the frame the doorway occupies in each image."),
    ("translation_forward", "tf:forward", "neutral_disjunction", "Decide whether the objects got larger or smaller from image 1 to image 2."),
    ("translation_forward", "tf:backward", "cue_naming", "Check the distance of the chair from the image centre in both images."),
    ("translation_forward", "tf:forward", "cue_naming", "Compare the spacing between the two windows across the pair."),
    ("translation_forward", "tf:backward", "location_words", "Look at the objects near the image borders in both images."),
    ("translation_forward", "tf:forward", "general_rule", "Moving the camera along its viewing direction makes the scene expand from, or contract to, the image centre."),
    ("translation_forward", "cat:backward", "pointing", "Measure the width of the doorway in image 1 and again in image 2."),
    ("translation_forward", "mc4:forward:A", "all_options", "Compare the apparent size of the desk in pair A and in pair B."),
    # --- translation_lateral ------------------------------------------------------------------------
    ("translation_lateral", "tf:right", "cue_naming", "Compare near and far objects: how much does each shift horizontally?"),
    ("translation_lateral", "tf:left", "pointing", "Look at the pillar in the foreground and the wall behind it."),
    ("translation_lateral", "tf:right", "general_rule", "A sideways step moves near objects more than far ones; use the parallax between the pillar and the wall."),
    ("translation_lateral", "tf:left", "neutral_disjunction", "Check whether the foreground moves left or right relative to the background."),
    ("translation_lateral", "tf:right", "location_words", "Compare the boxed region on the left side of both images."),
    ("translation_lateral", "cat:left", "pointing", "Find the bin in the foreground of image 1 and locate it in image 2."),
    # --- translation_vertical -----------------------------------------------------------------------
    ("translation_vertical", "tf:up", "cue_naming", "Compare the vertical position of the tabletop in both images."),
    ("translation_vertical", "tf:down", "location_words", "Look at the bottom edge of each image and the floor visible there."),
    ("translation_vertical", "tf:up", "general_rule", "Raising or lowering the camera moves the scene vertically in the image, the other way."),
    ("translation_vertical", "cat:down", "pointing", "Use the top of the bookcase as a landmark in both images."),
    # --- camera_motion ------------------------------------------------------------------------------
    ("camera_motion", "tf:stationary", "pointing", "Compare the position of the window frame in image 1 and image 2 carefully, pixel by pixel if needed."),
    ("camera_motion", "tf:moving", "neutral_disjunction", "Check whether anything in the scene is displaced between the two images or not."),
    ("camera_motion", "tf:stationary", "pointing", "Look at the edges of static objects such as shelves in both images."),
    ("camera_motion", "tf:moving", "general_rule", "Any camera motion changes where the scene's structures appear in the image."),
    ("camera_motion", "tf:stationary", "location_words", "Compare the top-left corners of both images."),
    ("camera_motion", "cat:moving", "pointing", "Overlay the two images in your mind, using the door frame as the reference."),
    # --- ee_lateral ---------------------------------------------------------------------------------
    ("ee_lateral", "tf:right", "cue_naming", "Compare the gripper's horizontal position relative to the fixed table in image 1 and image 2."),
    ("ee_lateral", "tf:left", "pointing", "Look at the gripper against the background wall in both images."),
    ("ee_lateral", "tf:right", "location_words", "The table edge on the left is a fixed reference; measure the gripper's distance to it in each image."),
    ("ee_lateral", "tf:left", "neutral_disjunction", "Decide whether the gripper moves toward the left or the right of the image."),
    ("ee_lateral", "cat:right", "pointing", "The gripper is inside the boxed region of both images; compare where it is against the table's texture."),
    ("ee_lateral", "mc4:left:B", "all_options", "In pair A and in pair B, compare the gripper's place relative to the bowl."),
    # --- ee_vertical --------------------------------------------------------------------------------
    ("ee_vertical", "tf:up", "cue_naming", "Compare the gripper's height above the table in both images."),
    ("ee_vertical", "tf:down", "pointing", "Look at the shadow of the gripper on the table."),
    ("ee_vertical", "tf:up", "cue_naming", "Measure the gap between the gripper and the tabletop in image 1 and again in image 2."),
    ("ee_vertical", "tf:down", "neutral_disjunction", "Decide whether the gripper went up or down relative to the table."),
    ("ee_vertical", "cat:up", "pointing", "Use the top of the block as a height reference in both images."),
    # --- ee_depth -----------------------------------------------------------------------------------
    ("ee_depth", "tf:toward", "cue_naming", "Compare the gripper's apparent size in image 1 and image 2."),
    ("ee_depth", "tf:away", "cue_naming", "Look at how much of the image the gripper covers in each frame."),
    ("ee_depth", "tf:toward", "general_rule", "Use the gripper's size, not its position, to judge its distance from the camera."),
    ("ee_depth", "cat:away", "neutral_disjunction", "Toward or away from the camera: judge by the gripper's apparent size."),
    # --- gripper ------------------------------------------------------------------------------------
    ("gripper", "tf:opening", "cue_naming", "Compare the gap between the fingers in image 1 and image 2."),
    ("gripper", "tf:closing", "pointing", "Look at the two fingertips inside the boxed region."),
    ("gripper", "tf:holding", "neutral_disjunction", "Decide whether the gap between the fingers grows, shrinks or stays the same."),
    ("gripper", "tf:opening", "cue_naming", "Measure the spacing of the jaws in both images."),
    ("gripper", "tf:closing", "pointing", "Check whether the block is between the fingers in each image."),
    ("gripper", "tf:holding", "general_rule", "The gripper's state shows as the spacing of its fingers."),
    ("gripper", "cat:opening", "cue_naming", "Look at the inner edges of the two fingers and compare how far apart they are in each image."),
    ("gripper", "mc4:closing:A", "all_options", "Compare the finger spacing in pair A with the spacing in pair B, each from its first image to its second."),
    # --- phase --------------------------------------------------------------------------------------
    ("phase", "tf:approach", "pointing", "Look at where the gripper is relative to the block in each image."),
    ("phase", "tf:grasp", "cue_naming", "Check whether the block is between the fingers and whether it rests on the table."),
    ("phase", "tf:lift", "cue_naming", "Compare the block's height above the table across the pair."),
    ("phase", "tf:place", "general_rule", "The stage of the task shows in where the gripper is relative to the block and whether it carries it."),
    ("phase", "cat:grasp", "pointing", "Look closely at the contact between the fingers and the block's sides."),
    # --- wrist_rotation -----------------------------------------------------------------------------
    ("wrist_rotation", "tf:clockwise", "cue_naming", "Compare the angle of the fingers' long edges in both images."),
    ("wrist_rotation", "tf:counterclockwise", "pointing", "Look at the orientation of the gripper in the boxed region."),
    ("wrist_rotation", "tf:clockwise", "neutral_disjunction", "Decide whether the fingers rotated clockwise or counterclockwise."),
    ("wrist_rotation", "cat:counterclockwise", "general_rule", "A rotation of the wrist turns the fingers' long edges about the vertical axis."),
    # --- objects ------------------------------------------------------------------------------------
    ("object_lateral", "tf:right", "cue_naming", "Compare the red cube's position relative to the floor texture in image 1 and image 2."),
    ("object_depth", "tf:away", "cue_naming", "Look at the blue ball's apparent size in both images."),
    ("object_lateral", "tf:left", "general_rule", "A camera pan shifts everything together; only the object's shift against the floor counts."),
    ("object_lateral", "tf:right", "location_words", "Find the green box in the lower-left part of image 1 and locate it in image 2."),
    ("object_depth", "tf:toward", "cue_naming", "Compare the yellow object's apparent size and its height in the image across the pair."),
    ("object_lateral", "cat:left", "neutral_disjunction", "Left or right of the image: compare the cube's position with the floor tiles."),
    ("object_depth", "cat:toward", "pointing", "The red object is inside the box on both images; compare how big it looks."),
    # --- comparatives -------------------------------------------------------------------------------
    ("yaw", "cmp4:A", "procedure", "Judge how much the horizontal position changes in each pair, then set the two amounts side by side."),
    ("yaw", "cmp4:B", "procedure", "Measure the doorway's shift in pair A and in pair B separately before comparing."),
    ("pitch", "cmp4:A", "question_restating", "Decide which pair shows the larger change."),
    ("pitch", "cmp4:B", "procedure", "Compare the horizon's vertical displacement in pair A with that in pair B."),
    ("roll", "cmp4:A", "procedure", "Use the same kind of landmark in both pairs so the amounts are comparable."),
    ("yaw", "cmp4:B", "procedure", "Estimate each pair's rotation as a fraction of the image width, then compare the two."),
    ("translation_lateral", "cmp4:A", "location_words", "Look at the larger window in both pairs."),
    ("object_lateral", "cmp4:B", "procedure", "Don't compare the sizes of the objects; compare how far they move."),
    ("ee_lateral", "cmp4:A", "pointing", "Track the gripper's fingertips in pair A and in pair B."),
    ("yaw", "cmp3:A", "question_restating", "One pair's motion is larger than the other's; work out which by measuring both."),
    ("gripper", "cmp4:B", "procedure", "Compare the change in finger spacing within pair A to the change within pair B."),
    ("translation_forward", "cmp4:A", "procedure", "For each pair, compare how much the doorway's apparent size changes from its first image to its second."),
    ("yaw", "cmp3:B", "all_options", "Pair A goes from image 1 to image 2 and pair B from image 1 to image 3: measure the shelf's shift in each."),
    ("ee_vertical", "cmp4:B", "procedure", "Measure the height change of the gripper in each pair against the table, then compare."),
    ("object_depth", "cmp4:A", "procedure", "Compare how much the object's apparent size changes in pair A and in pair B."),
    ("wrist_rotation", "cmp4:B", "procedure", "Measure the change of the fingers' angle in each pair."),
    ("pitch", "cmp3:A", "question_restating", "Which pair has the smaller tilt? Compare the horizon's height change in both."),
    # --- numeric ------------------------------------------------------------------------------------
    ("yaw", "num:24 deg", "procedure", "Judge how much the horizontal position of the bookshelf changes, relative to the width of the image."),
    ("yaw", "num:12 deg", "procedure", "Estimate the shift as a fraction of the image width and convert it with the camera's field of view."),
    ("translation_lateral", "num:0.35 m", "pointing", "Measure the displacement of the doorway between image 1 and image 2."),
    ("pitch", "num:8 deg", "procedure", "Answer in degrees, as the question asks."),
    ("ee_lateral", "num:4.5 cm", "procedure", "Compare the gripper's position in image 1 and image 2 against the table's edge to estimate the distance in centimetres."),
    ("roll", "num:2 deg", "pointing", "Look at image 1 and image 2; the box on both images marks the region to measure."),
    ("gripper", "num:3.0 cm", "cue_naming", "Compare the width of the finger gap in image 1 with image 2, using the block's width as a ruler."),
    ("translation_forward", "num:1.2 m", "procedure", "Use the change in the door's apparent size to estimate how far the camera travelled."),
    ("pitch", "num:20 deg", "procedure", "Relate the horizon's vertical shift to the image height and the vertical field of view."),
    ("ee_vertical", "num:6.0 cm", "procedure", "Use the block's known height as a scale for the gripper's vertical change."),
    # --- option pointing and question-type neutral guidance ----------------------------------------
    ("yaw", "mc3:right:B", "all_options", "Compare image 2 and image 3 with image 1; look at the shelf in each."),
    ("pitch", "mc4:down:A", "all_options", "Check both pairs, A and B, for how the horizon moves."),
    ("gripper", "mc4:opening:B", "all_options", "Look at pair A and pair B in turn, focusing on the gripper's fingers."),
    ("roll", "mc4:clockwise:A", "all_options", "Options A and B differ only in which pair you look at; inspect both."),
    ("yaw", "tf:left:true", "pointing", "Decide whether the statement is true or false by checking the doorway's shift."),
    ("ee_depth", "tf:toward:false", "pointing", "Test the claim against the gripper's apparent size in both images."),
    ("phase", "mc4:lift:B", "all_options", "For pair A and for pair B, look at whether the block touches the table."),
    ("ee_lateral", "mc3:left:A", "all_options", "Compare where the gripper is in image 2 and in image 3, relative to image 1."),
    ("object_lateral", "mc4:right:B", "all_options", "Pair A and pair B both show the red cube; compare its position to the floor tiles in each."),
    ("translation_vertical", "mc3:up:A", "all_options", "Compare image 2 and image 3 against image 1 using the height of the countertop."),
    ("camera_motion", "mc4:moving:A", "all_options", "For each pair, compare the first image with the second at the picture frame on the wall."),
]

# Held out: a thinking model's voice (hedges, long sentences, self-reference). Written after DEV but
# never run through the guard while the guard was tuned.
HELDOUT_LEAKS: list[tuple[str, str, str, str]] = [
    ("yaw", "tf:left", "inverse_frame", "If you follow the radiator from image 1 into image 2 you'll see it glide over toward the right-hand edge, which tells you a lot about the camera."),
    ("yaw", "tf:right", "enter_exit", "Notice that image 2 reveals a part of the kitchen that was hidden beyond the right edge of image 1."),
    ("yaw", "tf:left", "camera_frame", "Essentially the camera rotated leftward a bit between the shots."),
    ("yaw", "tf:right", "image_space", "By image 2 the poster has migrated toward the left side."),
    ("pitch", "tf:up", "inverse_frame", "The floor line drifts down the frame quite a bit in image 2."),
    ("pitch", "tf:down", "image_space", "Check the ceiling lamp: in image 2 it is much nearer to the top edge than before."),
    ("pitch", "tf:up", "enter_exit", "In image 2 the bottom strip of the floor has dropped out of view."),
    ("roll", "tf:clockwise", "inverse_frame", "The content of image 2 appears rotated counter-clockwise relative to image 1."),
    ("roll", "tf:counterclockwise", "image_space", "The shelf edge that was level in image 1 slants downward toward the right in image 2."),
    ("translation_forward", "tf:forward", "inverse_frame", "The door grows noticeably in image 2, as though we walked toward it."),
    ("translation_forward", "tf:backward", "image_space", "Things in image 2 look smaller and the walls come into view at the sides."),
    ("translation_lateral", "tf:left", "inverse_frame", "The near chair slides to the right much more than the far wall does."),
    ("translation_vertical", "tf:down", "camera_frame", "The camera was lowered a little before image 2."),
    ("camera_motion", "tf:stationary", "state_paraphrase", "Image 2 is essentially the same picture as image 1, with no shift anywhere."),
    ("camera_motion", "tf:moving", "state_paraphrase", "The whole view has shifted between the two images."),
    ("ee_lateral", "tf:left", "image_space", "The gripper has moved over toward the left side of the frame by image 2."),
    ("ee_vertical", "tf:up", "state_paraphrase", "The gripper climbs noticeably above the table."),
    ("ee_depth", "tf:away", "state_paraphrase", "The gripper appears to shrink, pulling back away from the camera."),
    ("gripper", "tf:opening", "state_paraphrase", "You can see the fingers spreading wider apart in the second image."),
    ("gripper", "tf:closing", "state_paraphrase", "The gap between the fingertips narrows noticeably."),
    ("gripper", "tf:holding", "state_paraphrase", "The fingers remain locked around the cube throughout."),
    ("phase", "tf:lift", "state_paraphrase", "The block is up in the air, clear of the table, in image 2."),
    ("phase", "tf:place", "state_paraphrase", "The gripper sets the cube back down onto the table."),
    ("wrist_rotation", "tf:clockwise", "image_space", "The fingers have been twisted clockwise in image 2."),
    ("object_lateral", "tf:right", "image_space", "The red block has slid over to the right against the floor tiles."),
    ("object_depth", "tf:away", "state_paraphrase", "The cube looks smaller in image 2, as if it moved farther away."),
    ("yaw", "cmp4:B", "ratio", "Pair B's displacement looks roughly four times as big as pair A's."),
    ("pitch", "cmp4:A", "relative", "In pair A the horizon moves a great deal, whereas pair B shows only a slight change."),
    ("translation_lateral", "cmp4:B", "relative", "The second pair clearly involves much more motion."),
    ("gripper", "cmp4:A", "ratio", "Pair A's gap change is about twice the width of pair B's."),
    ("ee_lateral", "cmp4:B", "relative", "Pair A barely shifts at all."),
    ("yaw", "num:30 deg", "number", "My estimate would be close to thirty degrees."),
    ("translation_forward", "num:0.8 m", "number", "It's roughly 80 centimetres of travel."),
    ("pitch", "num:10 deg", "number", "It's on the order of 10 or 11."),
    ("yaw", "mc3:left:A", "direct_answer", "So the right choice here is A."),
    ("pitch", "tf:up:true", "verdict", "The statement in the question is right."),
    ("gripper", "tf:closing:false", "verdict", "The claim in the question is not correct."),
    ("yaw", "cat:right", "direct_answer", "The word that fits the blank is right."),
    ("roll", "mc4:clockwise:B", "option_single", "Pair B is the one that shows it."),
    ("ee_vertical", "tf:down", "rule_applied", "Lowering the gripper brings it nearer the table, and here it is nearer the table in image 2."),
]

HELDOUT_SAFE: list[tuple[str, str, str, str]] = [
    ("yaw", "tf:left", "pointing", "It might help to focus on the radiator under the window and compare its horizontal placement in image 1 and image 2."),
    ("yaw", "tf:right", "location_words", "There's a distinctive poster in the upper-right area of image 1; try to find it again in image 2."),
    ("yaw", "tf:left", "neutral_disjunction", "Work out whether the content moved toward the left or toward the right edge, then invert it for the camera."),
    ("pitch", "tf:up", "cue_naming", "Pay attention to how high the floor line sits in each image."),
    ("pitch", "tf:down", "general_rule", "Keep in mind that when a camera tilts, the scene moves in the image the other way."),
    ("roll", "tf:clockwise", "cue_naming", "Compare the tilt of the shelf edge in the two images, relative to the image's horizontal border."),
    ("translation_forward", "tf:forward", "cue_naming", "The door is a good reference: compare how wide it appears in each image."),
    ("translation_lateral", "tf:right", "cue_naming", "Parallax is the key: compare how much the near chair and the far wall shift."),
    ("translation_vertical", "tf:down", "location_words", "Look at the strip along the bottom of each image."),
    ("camera_motion", "tf:stationary", "pointing", "Look very carefully at fine details such as the edges of the picture frame in both images."),
    ("ee_lateral", "tf:left", "cue_naming", "Try comparing the gripper's position against the edge of the table in each image."),
    ("ee_vertical", "tf:up", "cue_naming", "Look at the vertical gap between the gripper and the table in both frames."),
    ("ee_depth", "tf:away", "cue_naming", "Compare the gripper's apparent size between the two images."),
    ("gripper", "tf:opening", "cue_naming", "Zoom in on the fingertips and compare the space between them in each image."),
    ("gripper", "tf:holding", "neutral_disjunction", "Check whether the fingers open, close, or keep the same spacing."),
    ("phase", "tf:lift", "cue_naming", "Check where the block is relative to the table surface in each image."),
    ("wrist_rotation", "tf:clockwise", "cue_naming", "Compare the orientation of the fingers' edges across the two images."),
    ("object_lateral", "tf:right", "cue_naming", "Compare the red block's position against the floor tiles in both images."),
    ("object_depth", "tf:away", "cue_naming", "Compare how large the cube appears in each image."),
    ("yaw", "cmp4:B", "procedure", "Measure the shift of the same kind of feature in pair A and in pair B, and only then compare the two amounts."),
    ("pitch", "cmp4:A", "procedure", "For each pair, estimate the horizon's vertical change from the first image to the second."),
    ("gripper", "cmp4:A", "procedure", "Compare the change in finger spacing in each pair separately."),
    ("yaw", "num:30 deg", "procedure", "Estimate the fraction of the image width the shelf moves, and relate it to the field of view."),
    ("translation_forward", "num:0.8 m", "procedure", "Use the change in the door's apparent width to estimate how far the camera moved."),
    ("yaw", "mc3:left:A", "all_options", "Compare both image 2 and image 3 with image 1, looking at the radiator."),
    ("pitch", "tf:up:true", "pointing", "Check the claim against the height of the floor line in both images."),
    ("roll", "mc4:clockwise:B", "all_options", "Look at pair A and pair B, comparing the slant of the shelf edges in each."),
    ("ee_vertical", "tf:down", "general_rule", "The gripper's own vertical motion shows as a change of its height above the table."),
    ("object_lateral", "tf:left", "general_rule", "A camera pan shifts everything together, so judge the block against the floor, not the image border."),
    ("translation_lateral", "tf:left", "location_words", "The chair near the left border of image 1 is a good landmark for both images."),
]

# Probes: written after the guard scored dev and heldout, to look for its blind spots (unusual wording,
# relative positions, idioms). Reported as they are; the guard was not tuned on them.
PROBE_LEAKS: list[tuple[str, str, str, str]] = [
    ("yaw", "tf:left", "inverse_frame", "Everything in the second photo is displaced a few dozen pixels to the right."),
    ("yaw", "tf:right", "inverse_frame", "The scene's content is offset toward the left in image 2."),
    ("pitch", "tf:up", "image_space", "The horizon line is no longer in the middle; it is now in the lower third of image 2."),
    ("pitch", "tf:down", "camera_frame", "The view swings down toward the floor tiles."),
    ("roll", "tf:clockwise", "inverse_frame", "The room appears rotated the opposite way to a clock's hands in image 2."),
    ("translation_forward", "tf:forward", "image_space", "The doorway now takes up most of image 2."),
    ("translation_forward", "tf:backward", "image_space", "The sofa looks further off in image 2."),
    ("translation_lateral", "tf:right", "camera_frame", "The camera shuffled sideways to the right."),
    ("gripper", "tf:opening", "state_paraphrase", "The fingers are farther apart in image 2 than in image 1."),
    ("gripper", "tf:closing", "state_paraphrase", "By image 2 the fingertips nearly touch."),
    ("ee_depth", "tf:toward", "state_paraphrase", "The gripper looks bigger in image 2."),
    ("ee_vertical", "tf:up", "image_space", "In image 2 the gripper hovers higher above the block."),
    ("phase", "tf:lift", "state_paraphrase", "The cube is no longer on the table in image 2."),
    ("camera_motion", "tf:moving", "state_paraphrase", "Image 2 is shifted compared with image 1."),
    ("wrist_rotation", "tf:counterclockwise", "image_space", "The fingers rotate against the clock."),
    ("yaw", "tf:left", "enter_exit", "Things slide out of view on the right side in image 2."),
    ("yaw", "cmp4:B", "relative", "Pair A's shift is tiny next to pair B's."),
    ("pitch", "cmp4:B", "ratio", "Pair B moves roughly 3 times as much."),
    ("yaw", "num:24 deg", "number", "Roughly two-dozen degrees."),
    ("ee_lateral", "mc4:left:A", "direct_answer", "Pair A it is."),
    ("yaw", "tf:left:true", "verdict", "Yes, that's what the images show."),
]
PROBE_SAFE: list[tuple[str, str, str, str]] = [
    ("yaw", "tf:left", "pointing", "Pick a sharp corner in image 1 and find the same corner in image 2."),
    ("yaw", "tf:right", "location_words", "Look to the left of the lamp in both images."),
    ("yaw", "tf:left", "location_words", "The lamp is near the right edge in image 1; find it in image 2."),
    ("translation_lateral", "tf:right", "cue_naming", "Watch for parallax between the chair and the wall behind it."),
    ("yaw", "tf:right", "cue_naming", "Decide in which direction the scene content moves."),
    ("pitch", "tf:up", "cue_naming", "The key cue is the vertical position of the horizon line."),
    ("pitch", "tf:down", "location_words", "Use the upper half of the frame, where the texture is strongest."),
    ("object_lateral", "tf:left", "general_rule", "Think about whether the camera or the object moved."),
    ("gripper", "tf:closing", "pointing", "Focus on the fingers, not the arm."),
    ("yaw", "cmp4:A", "procedure", "Compare pair A's first image with its second, then do the same for pair B."),
    ("object_depth", "tf:away", "pointing", "Count the floor tiles between the cube and the wall in each image."),
    ("yaw", "num:24 deg", "procedure", "Estimate the angle in degrees from the shift of the doorway."),
    ("yaw", "tf:left:true", "pointing", "Check the claim by looking at the radiator."),
    ("ee_depth", "tf:toward", "cue_naming", "The gripper appears in both images; compare its size."),
    ("phase", "tf:grasp", "pointing", "Note the shadow under the block in each image."),
    ("camera_motion", "tf:stationary", "pointing", "Both images show the same kitchen; find the fridge in each."),
    ("yaw", "tf:right:false", "pointing", "The right answer depends on the wall texture; compare it carefully."),
    ("pitch", "tf:up", "location_words", "Compare the top-right corner of image 2 with image 1."),
    ("object_depth", "tf:toward", "location_words", "The block is at the bottom of the frame in both images; compare how big it looks."),
    ("ee_lateral", "tf:right", "location_words", "The gripper starts near the left edge of image 1; find it in image 2 against the table."),
]

# Probe 2: written after the guard was adjusted to probe 1's misses, and scored once, as it is.
PROBE2_LEAKS: list[tuple[str, str, str, str]] = [
    ("yaw", "tf:right", "image_space", "Compared with image 1, the shelves in image 2 sit noticeably more to the left."),
    ("yaw", "tf:left", "camera_frame", "The camera's heading swung port-side."),
    ("pitch", "tf:up", "camera_frame", "In image 2 we are looking more toward the ceiling."),
    ("pitch", "tf:down", "enter_exit", "The lamp hanging from the ceiling has gone out of the top of the frame."),
    ("roll", "tf:counterclockwise", "image_space", "The horizon in image 2 is tilted so that its right end is lower."),
    ("translation_forward", "tf:backward", "image_space", "The painting is noticeably smaller in the later image."),
    ("ee_lateral", "tf:right", "image_space", "Between the two images the gripper slides over toward the window side on the right."),
    ("gripper", "tf:opening", "state_paraphrase", "The fingers have parted wider by image 2."),
    ("phase", "tf:place", "state_paraphrase", "The block ends up resting on the table again after being carried."),
    ("object_depth", "tf:toward", "state_paraphrase", "The red object seems to be getting nearer to us."),
    ("camera_motion", "tf:stationary", "state_paraphrase", "The two frames look pixel-for-pixel alike."),
    ("yaw", "cmp4:A", "relative", "Most of the motion happens in pair A."),
    ("translation_lateral", "num:0.35 m", "number", "I'd put it at a bit over thirty centimetres."),
    ("yaw", "mc3:left:B", "option_single", "Image 3 matches the description."),
    ("pitch", "tf:up:false", "verdict", "No, that isn't what happens."),
]
PROBE2_SAFE: list[tuple[str, str, str, str]] = [
    ("yaw", "tf:right", "pointing", "Compare where the shelf sits in image 1 with where it sits in image 2."),
    ("yaw", "tf:left", "location_words", "Pay attention to the window on the right-hand wall in both images."),
    ("pitch", "tf:up", "pointing", "The ceiling lamp is a good landmark; find it in both images."),
    ("roll", "tf:clockwise", "cue_naming", "Judge the tilt of the horizon relative to the bottom edge of the image."),
    ("translation_forward", "tf:backward", "cue_naming", "Look at the painting's size in the earlier and in the later image."),
    ("ee_lateral", "tf:right", "pointing", "The gripper passes in front of a window; use the window frame as a fixed reference."),
    ("gripper", "tf:opening", "pointing", "Zoom in on the fingers in both images."),
    ("phase", "tf:place", "cue_naming", "Check whether the block touches the table in each image."),
    ("object_depth", "tf:toward", "procedure", "Use the floor tiles as a ruler for the red object's distance."),
    ("camera_motion", "tf:stationary", "procedure", "Overlay image 2 on image 1 and look for any mismatch at the edges."),
    ("yaw", "cmp4:A", "procedure", "Measure how far the scene shifts in pair A, then in pair B."),
    ("translation_lateral", "num:0.35 m", "procedure", "Give the distance in metres after estimating it from the doorway."),
    ("yaw", "mc3:left:B", "all_options", "Compare image 2 and image 3 against image 1 at the bookshelf."),
    ("pitch", "tf:up:false", "pointing", "Read the claim carefully, then check the radiator in both images."),
    ("translation_forward", "tf:forward", "pointing", "Zoom in on the boxed region of image 2 and compare with image 1."),
]

# --- contexts ----------------------------------------------------------------------------------------
_OTHER = {"left": "right", "right": "left", "up": "down", "down": "up", "clockwise": "counterclockwise",
          "counterclockwise": "clockwise", "forward": "backward", "backward": "forward", "toward": "away",
          "away": "toward", "stationary": "moving", "moving": "stationary", "opening": "closing",
          "closing": "opening", "holding": "opening", "approach": "lift", "grasp": "place", "lift": "approach",
          "place": "grasp"}
_BLANK_WORD = {"toward": "toward", "away": "away from"}
_BLANK_OPTIONS = {
    "gripper": ["closing", "holding", "opening"], "phase": ["approach", "grasp", "lift", "place"],
    "ee_depth": ["away from", "toward"], "object_depth": ["away from", "toward"],
}
_COLOUR = {"object_lateral": "red", "object_depth": "red"}


def sample_for(attribute: str, spec: str) -> dict:
    """The question row (merged with its triplet's labels) that ``spec`` describes (module doc)."""
    kind, *rest = spec.split(":")
    base = {"attribute": attribute, "object_color": _COLOUR.get(attribute), "tolerance": None, "relations": []}
    if kind in ("tf", "cat"):
        value = rest[0]
        base.update(positive_value=value, negative_value=_OTHER.get(value), image_roles=["anchor", "positive"])
        if kind == "tf":
            answer = rest[1] if len(rest) > 1 else "true"
            return {**base, "question_type": "true_false", "parse_rule": "true_false", "answer": answer,
                    "options": ["true", "false"]}
        options = _BLANK_OPTIONS.get(attribute, sorted({value, _OTHER[value]}))
        return {**base, "question_type": "fill_blank", "parse_rule": "categorical",
                "answer": _BLANK_WORD.get(value, value), "options": options}
    if kind in ("mc3", "mc4", "cmp3", "cmp4"):
        value, letter = (rest[0], rest[1]) if kind.startswith("mc") else (None, rest[0])
        three = kind.endswith("3")
        if three:
            roles = ["anchor", "positive", "negative"] if letter == "A" else ["anchor", "negative", "positive"]
        else:
            roles = (["anchor", "positive", "negative_anchor", "negative"] if letter == "A"
                     else ["negative_anchor", "negative", "anchor", "positive"])
        options = ["Image 2", "Image 3"] if (three and kind.startswith("mc")) else ["Pair A", "Pair B"]
        base.update(positive_value=value, negative_value=_OTHER.get(value) if value else None, image_roles=roles)
        qtype = "multiple_choice" if kind.startswith("mc") else "comparative"
        return {**base, "question_type": qtype, "parse_rule": "choice_letter", "answer": letter, "options": options}
    if kind == "num":
        return {**base, "question_type": "fill_blank", "parse_rule": "number_mra", "answer": rest[0], "options": [],
                "image_roles": ["anchor", "positive"], "positive_value": None, "negative_value": None}
    raise ValueError(f"unknown context spec {spec!r}")


def _rows(entries, label: str) -> list[dict]:
    rows = []
    for attribute, spec, style, text in entries:
        sample = sample_for(attribute, spec)
        implies = sample.get("positive_value") if spec.split(":")[0] in ("tf", "cat", "mc3", "mc4") else None
        rows.append({"text": text, "label": label, "style": style, "attribute": attribute,
                     "question_type": sample["question_type"], "spec": spec, "sample": sample,
                     "implies": implies if label == "leak" else None})
    return rows


def cases(split: str = "dev") -> list[dict]:
    """The labelled cases of ``split`` (``dev``, ``heldout``, ``probe``, ``probe2`` or ``all``)."""
    if split == "dev":
        return _rows(DEV_LEAKS, "leak") + _rows(DEV_SAFE, "safe")
    if split == "heldout":
        return _rows(HELDOUT_LEAKS, "leak") + _rows(HELDOUT_SAFE, "safe")
    if split == "probe":
        return _rows(PROBE_LEAKS, "leak") + _rows(PROBE_SAFE, "safe")
    if split == "probe2":
        return _rows(PROBE2_LEAKS, "leak") + _rows(PROBE2_SAFE, "safe")
    if split == "all":
        return cases("dev") + cases("heldout") + cases("probe") + cases("probe2")
    raise ValueError(f"split must be dev, heldout, probe, probe2 or all, got {split!r}")
