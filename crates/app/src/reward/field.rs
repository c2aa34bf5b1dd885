//! The FB reward field in the app: asked of the worker when due (see [`FieldView`]), drawn over
//! a top view of the scene when it answers.

use super::{FieldView, RewardMut, FIELD_GRID, FIELD_SIZE};
use crate::sim::SimMut;
use genreward_record::picture::Picture;
use genreward_render::{CameraName, ViewSpec};
use genreward_reward::field::FieldGrid;

impl RewardMut<'_> {
    /// Recomputes the reward field when it is due (see [`FieldView`]).
    pub(super) fn refresh_field(&mut self, sim: &mut SimMut) {
        self.draw_field(sim);
        if !self.field.show || self.field.asked.is_some() {
            return;
        }
        let shown = sim.shown();
        let now = (
            shown.episode.serial,
            shown.step(),
            self.goal.frame,
            self.field.subject,
        );
        let due = match self.field.shown {
            None => true,
            Some((e, step, g, s)) => {
                e != now.0
                    || g != now.2
                    || s != now.3
                    || now.1 >= step + self.field.every.max(1)
                    || (now.1 < step)
            }
        };
        if !due {
            return;
        }
        let Some(loaded) = self.goal.loaded() else {
            return;
        };
        if !loaded.has_fb {
            self.terms.message = Some("no r_fb: the reward field needs an FB model".into());
            self.field.show = false;
            return;
        }
        let Some(worker) = self.link.worker.as_mut() else {
            return;
        };
        let obs = shown.obs();
        let action = shown.record().map_or([0.0; 4], |r| r.action);
        let grid = FieldGrid::over_hand_box(shown.episode.task, FIELD_GRID);
        worker.field(self.link.generation, obs, action, self.field.subject, grid);
        self.field.shown = Some(now);
        self.field.asked = Some((obs, std::time::Instant::now()));
    }

    /// Draws the field the worker answered over a top view of the scene.
    fn draw_field(&mut self, sim: &mut SimMut) {
        let field: &mut FieldView = self.field;
        let Some((answer, _)) = field.ready.take() else {
            return;
        };
        let Some((obs, _asked)) = field.asked.take() else {
            return;
        };
        let values = match answer {
            Ok(f) => f,
            Err(e) => {
                self.terms.message = Some(format!("reward field: {e}"));
                field.show = false;
                return;
            }
        };
        if !field.show {
            return;
        }
        let t0 = std::time::Instant::now();
        let spec = ViewSpec {
            camera: CameraName::Topview,
            width: FIELD_SIZE,
            height: FIELD_SIZE,
        };
        let Some(top) = sim.render_view(spec) else {
            return;
        };
        let Some(picture) = Picture::from_rgb(top.width, top.height, top.rgb) else {
            return;
        };
        let hand = genreward_sim::obs::hand(&obs);
        let pose = CameraName::Topview.pose(hand);
        let pic = genreward_episodes::draw_field(
            picture,
            &pose.view_proj(1.0),
            &values,
            &[
                (hand, [255, 255, 255]),
                (genreward_sim::obs::object(&obs), [255, 140, 0]),
                (genreward_sim::obs::goal(&obs), [255, 40, 40]),
            ],
        );
        field.picture = Some(pic);
        field.values = Some(values);
        field.picture_serial += 1;
        // The field's time on the worker plus the top view and drawing here.
        field.ms += t0.elapsed().as_secs_f64() * 1e3;
        self.publish(sim.shown());
    }
}
